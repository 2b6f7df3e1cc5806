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
    _0 = torch.add_(self.steps, 1)
    if torch.gt(torch.dim(x), 3):
      n = (self).depth(3, )
    else:
      ops.prim.RaiseException("bad input", "builtins.ValueError")
    return torch.mul(x, n)
  def depth(self: __torch__.ScriptNet, k: int) -> int:
    if torch.le(k, 0):
      return 0
    return torch.add((self).depth(torch.sub(k, 1), ), 1)
