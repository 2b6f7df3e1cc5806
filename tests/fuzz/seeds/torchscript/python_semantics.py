class ScriptNet(Module):
  __parameters__ = []
  __buffers__ = ["steps", "scratch", ]
  steps : Tensor
  scratch : Tensor
  training : bool
  plain : Tensor
  conv : __torch__.torch.nn.modules.conv.Conv2d
  bn : __torch__.torch.nn.modules.batchnorm.BatchNorm2d
  fc : __torch__.torch.nn.modules.linear.Linear
  limit : Final[int] = 3
  def forward(self: __torch__.ScriptNet,
    x: Tensor) -> Tensor:
    a = torch.floordiv(-7, 2)
    b = torch.remainder(-7, 3)
    l = annotate(List[int], [])
    for i in range(10):
      if torch.eq(i, 2):
        continue
      if torch.gt(i, self.limit):
        break
      _0 = torch.append(l, i)
    c, d = (torch.len(l), l[-1])
    s = torch.format("{} and {}", a, l[1:3])
    dd = {"x": 5, "y": 6}
    f = dd["x"] if torch.__contains__(dd, "x") else 0
    g = 1 if torch.__is__(None, None) else 0
    while torch.lt(g, 4):
      g = torch.add(g, 1)
    total = a + b * 10 + c * 100 + d * 1000 + f * 10000 + g + torch.len(s)
    return torch.add(torch.mean(x, [2, 3]), float(total))
