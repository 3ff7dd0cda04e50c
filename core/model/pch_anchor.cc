// Anchor of the shared precompiled header: CMake compiles <torch/torch.h> once for this target and
// every LibTorch target reuses it (cmake/TuttiHelpers.cmake, tutti_torch_pch).
namespace tutti {
int TorchPchAnchor() { return 0; }
}  // namespace tutti
