#pragma once
// NumPy .npy arrays: parse a byte buffer, convert its values, serialise new ones.
//
// Format (numpy.lib.format): magic "\x93NUMPY", major/minor version (1.0, 2.0 or 3.0), a little-endian header
// length (uint16 in 1.0, uint32 in 2.0/3.0), then an ASCII Python dict literal
//   {'descr': '<i4', 'fortran_order': False, 'shape': (129,), }
// padded with spaces and ended by '\n', then the raw values.
//
// Supported: the simple little-endian (or byte-order-free '|') dtypes listed in NpyDtype, C and Fortran order,
// any number of dimensions. Not supported (clear error): big-endian, structured and object dtypes.
//
// Errors are InvalidArgument (OutOfRange for values that do not fit the requested type) and start with the
// member name given to ParseNpy, then say what was expected and what was found, e.g.
//   "pianoroll_0_csc_indptr.npy: expected dtype <i4 or <i8, got <f4".
// Callers add the file path in front (tutti::Annotate).
//
// Thread-safety: all functions are pure; NpyArray is an immutable view.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"

namespace tutti {

enum class NpyDtype : uint8_t {
  kBool,     // |b1
  kUint8,    // |u1
  kInt8,     // |i1
  kInt16,    // <i2
  kUint16,   // <u2
  kInt32,    // <i4
  kUint32,   // <u4
  kInt64,    // <i8
  kUint64,   // <u8
  kFloat32,  // <f4
  kFloat64,  // <f8
};

// The descr numpy writes for `dtype` ("|b1", "<i4", ...).
const char* NpyDtypeName(NpyDtype dtype);
// Bytes per element.
size_t NpyDtypeSize(NpyDtype dtype);

// A parsed .npy member. `data` points into the buffer given to ParseNpy (not owned; possibly unaligned):
// the view is valid only while that buffer lives and is unchanged.
struct NpyArray {
  std::string member;            // name used in error messages, e.g. "tempo.npy"
  NpyDtype dtype = NpyDtype::kUint8;
  bool fortran_order = false;
  std::vector<int64_t> shape;    // () for a scalar
  int64_t size = 0;              // number of elements = product of shape
  const uint8_t* data = nullptr; // size * NpyDtypeSize(dtype) bytes

  int ndim() const { return static_cast<int>(shape.size()); }
  // True when the bytes are already in C order (C order, or at most one dimension longer than 1), so that
  // element i of the flat C-order sequence is at data + i * itemsize.
  bool IsCContiguous() const;
  // "(129,)", "(6336, 128)", "()".
  std::string ShapeString() const;
};

// Parses `bytes` (a whole .npy file). The returned view points into `bytes`. Checks the magic, version,
// header dict (keys 'descr', 'fortran_order', 'shape' in any order; others rejected), dtype support and that
// the buffer holds exactly the data the shape needs (trailing bytes are an error).
StatusOr<NpyArray> ParseNpy(std::string_view bytes, const std::string& member);

// OK when array.dtype is one of `allowed`; else "<member>: expected dtype <i4 or <i8, got <f4".
Status ExpectDtype(const NpyArray& array, std::initializer_list<NpyDtype> allowed);

// Copies the values into `out` in C (row-major) order, converting to T. Supported T: bool-like uint8_t,
// int32_t, int64_t, double. Integer targets accept bool and integer sources only; a value outside T's range
// is an OutOfRange error naming the member and the flat index. double accepts every dtype. `out` is resized
// (capacity reused). 1-D and C-contiguous arrays of T's own dtype are a single memcpy.
template <typename T>
Status CopyToCOrder(const NpyArray& array, std::vector<T>* out);

// Serialises a version-1.0, C-order .npy (header padded so the data starts at a multiple of 64 bytes, as numpy
// does) and appends it to `out`. `data` holds product(shape) elements of `dtype`, little-endian.
void AppendNpy(NpyDtype dtype, const std::vector<int64_t>& shape, const void* data, std::string* out);

// Convenience: a fresh buffer holding the .npy.
std::string SerializeNpy(NpyDtype dtype, const std::vector<int64_t>& shape, const void* data);

}  // namespace tutti
