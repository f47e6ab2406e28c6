"""Parameter counts derived from layer lists, independently of the module code (test helper)."""


def bn(c):  # scale + bias (running statistics are not parameters)
  return 2 * c


def conv(cin, cout, k=1):  # with bias
  return k * k * cin * cout + cout


def bottleneck(cin, cout):
  """The hourglass bottleneck (expansion 2): BN-1x1-BN-3x3-BN-1x1, projection when cin != cout."""
  w = cout // 2
  n = bn(cin) + conv(cin, w) + bn(w) + conv(w, w, 3) + bn(w) + conv(w, cout)
  return n + (conv(cin, cout) if cin != cout else 0)
