// Fuzz target: ParseNpy (magic, version, header dict, shape product against the buffer) and the value
// conversions every reader runs on a parsed array. In memory: ParseNpy takes bytes, not a path.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/npz/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  tutti::StatusOr<tutti::NpyArray> array = tutti::ParseNpy(bytes, "fuzz.npy");
  if (!array.ok()) return 0;
  (void)array->IsCContiguous();
  (void)array->ShapeString();
  // Each conversion either fails with a Status (dtype or range) or copies exactly array->size values,
  // which ParseNpy has already checked against the buffer: none may read past `data`.
  std::vector<uint8_t> u8;
  std::vector<int32_t> i32;
  std::vector<int64_t> i64;
  std::vector<double> f64;
  (void)tutti::CopyToCOrder(*array, &u8);
  (void)tutti::CopyToCOrder(*array, &i32);
  (void)tutti::CopyToCOrder(*array, &i64);
  (void)tutti::CopyToCOrder(*array, &f64);
  return 0;
}
