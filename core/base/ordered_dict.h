// ordered_dict.h: an insertion-ordered string map with Python dict semantics.
//
// Reassigning a key keeps its position; erasing keeps the order of the others. Modules
// hold a handful of entries each, so a vector with linear lookup beats a hash map; past
// 32 entries (a flat state dict of a million tensors) a hash index keeps lookups O(1). The
// index changes only in set() and erase(), so const lookups never write.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nnscope {

template <class T> class OrderedDict {
  public:
    using Item = std::pair<std::string, T>;

    // string_view: a lookup by a literal ("num_batches_tracked") builds no std::string.
    T* find(std::string_view key) {
        if (!m_index.empty()) {
            auto it = m_index.find(key);
            return it == m_index.end() ? nullptr : &m_items[it->second].second;
        }
        for (auto& item : m_items)
            if (item.first == key) return &item.second;
        return nullptr;
    }
    const T* find(std::string_view key) const { return const_cast<OrderedDict*>(this)->find(key); }
    bool contains(std::string_view key) const { return find(key) != nullptr; }

    // Inserts at the end, or replaces in place when the key exists.
    T& set(const std::string& key, T value) {
        if (T* existing = find(key)) return *existing = std::move(value);
        m_items.emplace_back(key, std::move(value));
        if (!m_index.empty())
            m_index.emplace(key, m_items.size() - 1);
        else if (m_items.size() > k_linear)
            rebuild_index();
        return m_items.back().second;
    }
    bool erase(const std::string& key) {
        auto it = std::find_if(m_items.begin(), m_items.end(),
                               [&](const Item& i) { return i.first == key; });
        if (it == m_items.end()) return false;
        m_items.erase(it);
        m_index.clear();
        if (m_items.size() > k_linear) rebuild_index();
        return true;
    }

    size_t size() const { return m_items.size(); }
    bool empty() const { return m_items.empty(); }
    auto begin() const { return m_items.begin(); }
    auto end() const { return m_items.end(); }
    auto begin() { return m_items.begin(); }
    auto end() { return m_items.end(); }
    const std::vector<Item>& items() const { return m_items; }

  private:
    static constexpr size_t k_linear = 32;
    // Transparent hash and equality: the index is searched with a string_view directly.
    struct KeyHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    void rebuild_index() {
        m_index.clear();
        m_index.reserve(m_items.size() * 2);
        for (size_t i = 0; i < m_items.size(); ++i) m_index.emplace(m_items[i].first, i);
    }
    std::vector<Item> m_items;
    std::unordered_map<std::string, size_t, KeyHash, std::equal_to<>>
        m_index; // empty while linear lookup is used
};

} // namespace nnscope
