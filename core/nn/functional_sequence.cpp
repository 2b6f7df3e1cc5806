// functional_sequence.cpp: recurrent layers over a sequence and multi-head attention,
// shared by nn.LSTM/GRU/RNN, nn.MultiheadAttention and the Transformer layers (layers_sequence.cpp)
// and by the TorchScript operators aten::lstm, aten::_native_multi_head_attention, ...
#include "functional.h"

#include <tuple>

#include "errors.h"

namespace nnscope::F {

std::vector<Tensor> recurrent(Cell cell, const Tensor& input, const std::vector<Tensor>& hx,
                              const std::vector<Tensor>& params, const RecurrentOptions& o,
                              Generator& gen) {
    Tensor x = input;
    const bool has_biases = o.has_biases, batch_first = o.batch_first, train = o.train;
    const int64_t layers = o.num_layers;
    const double dropout = o.dropout;
    const int64_t dirs = o.bidirectional ? 2 : 1, per = has_biases ? 4 : 2;
    if (x.dim() != 3)
        throw Error("recurrent layer: expected a 3-D input, got " + shape_str(x.shape()));
    if (hx.size() != (cell == Cell::LSTM ? 2u : 1u))
        throw Error("recurrent layer: wrong number of hidden states");
    if (int64_t(params.size()) != layers * dirs * per)
        throw NotImplementedError("recurrent layer: " + std::to_string(params.size()) +
                                  " weights (projections, proj_size > 0, are not supported yet)");
    if (batch_first) x = x.transpose(0, 1); // (T, B, I)
    const int64_t steps = x.size(0);
    std::vector<Tensor> h_out, c_out;
    Tensor layer_in = x;
    for (int64_t l = 0; l < layers; ++l) {
        std::vector<Tensor> dir_outs;
        for (int64_t d = 0; d < dirs; ++d) {
            const size_t base = size_t((l * dirs + d) * per);
            const Tensor& w_ih = params[base];
            const Tensor& w_hh = params[base + 1];
            Tensor b_ih = has_biases ? params[base + 2] : Tensor(),
                   b_hh = has_biases ? params[base + 3] : Tensor();
            Tensor h = hx[0].select(0, l * dirs + d);
            Tensor c = cell == Cell::LSTM ? hx[1].select(0, l * dirs + d) : Tensor();
            std::vector<Tensor> outs(static_cast<size_t>(steps));
            for (int64_t k = 0; k < steps; ++k) {
                const int64_t t = d == 0 ? k : steps - 1 - k;
                Tensor xt = layer_in.select(0, t);
                if (cell == Cell::LSTM)
                    std::tie(h, c) = F::lstm_cell(xt, h, c, w_ih, w_hh, b_ih, b_hh);
                else if (cell == Cell::GRU)
                    h = F::gru_cell(xt, h, w_ih, w_hh, b_ih, b_hh);
                else
                    h = F::rnn_cell(xt, h, w_ih, w_hh, b_ih, b_hh, cell == Cell::Relu);
                outs[size_t(t)] = h.unsqueeze(0);
            }
            dir_outs.push_back(cat(outs, 0));
            h_out.push_back(h.unsqueeze(0));
            if (cell == Cell::LSTM) c_out.push_back(c.unsqueeze(0));
        }
        layer_in = dirs == 1 ? dir_outs[0] : cat(dir_outs, 2);
        if (dropout > 0 && train && l + 1 < layers)
            layer_in = F::dropout(layer_in, dropout, true, gen);
    }
    Tensor out = batch_first ? layer_in.transpose(0, 1) : layer_in;
    if (cell == Cell::LSTM) return {out, cat(h_out, 0), cat(c_out, 0)};
    return {out, cat(h_out, 0)};
}

std::pair<Tensor, Tensor> packed_attention(const Tensor& q_in, const Tensor& k_in,
                                           const Tensor& v_in, int64_t e, int64_t heads,
                                           const Tensor& w, const Tensor& b, const Tensor& proj_w,
                                           const Tensor& proj_b, Tensor mask, int64_t mask_type,
                                           double dropout_p, Generator* gen) {
    if (heads <= 0 || e % heads != 0) throw Error("embed_dim must be divisible by num_heads");
    if (q_in.dim() != 3)
        throw Error("attention: expected (batch, length, embed_dim) inputs, got " +
                    shape_str(q_in.shape()));
    auto part = [&](const Tensor& t, int64_t k) {
        return t.defined() ? t.narrow(0, k * e, e) : Tensor();
    };
    const int64_t d = e / heads;
    auto split = [&](const Tensor& x) { // (B, L, E) -> (B, H, L, D)
        return x.reshape({x.size(0), x.size(1), heads, d}).permute({0, 2, 1, 3});
    };
    Tensor q = split(linear(q_in, part(w, 0), part(b, 0)));
    Tensor k = split(linear(k_in, part(w, 1), part(b, 1)));
    Tensor v = split(linear(v_in, part(w, 2), part(b, 2)));
    if (mask.defined() && mask_type == 1)
        mask = mask.reshape({mask.size(0), 1, 1, mask.size(-1)}); // key padding
    auto [out, weights] = attention(q, k, v, mask);
    if (dropout_p > 0 && gen) out = batched_matmul(dropout(weights, dropout_p, true, *gen), v);
    out = out.permute({0, 2, 1, 3}).reshape({q_in.size(0), q_in.size(1), e});
    return {linear(out, proj_w, proj_b), weights};
}

} // namespace nnscope::F
