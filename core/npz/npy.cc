#include "core/npz/npy.h"

#include <cstring>
#include <limits>
#include <type_traits>

#include "absl/strings/str_cat.h"

// .npy data is little-endian; reading it with memcpy assumes a little-endian host.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tutti_npz assumes a little-endian host");

namespace tutti {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DtypeInfo {
  NpyDtype dtype;
  char kind;  // numpy kind character
  size_t size;
  const char* name;
};

constexpr DtypeInfo kDtypes[] = {
    {NpyDtype::kBool, 'b', 1, "|b1"},    {NpyDtype::kUint8, 'u', 1, "|u1"},
    {NpyDtype::kInt8, 'i', 1, "|i1"},    {NpyDtype::kInt16, 'i', 2, "<i2"},
    {NpyDtype::kUint16, 'u', 2, "<u2"},  {NpyDtype::kInt32, 'i', 4, "<i4"},
    {NpyDtype::kUint32, 'u', 4, "<u4"},  {NpyDtype::kInt64, 'i', 8, "<i8"},
    {NpyDtype::kUint64, 'u', 8, "<u8"},  {NpyDtype::kFloat32, 'f', 4, "<f4"},
    {NpyDtype::kFloat64, 'f', 8, "<f8"},
};

const DtypeInfo& Info(NpyDtype dtype) { return kDtypes[static_cast<int>(dtype)]; }

Status Invalid(const std::string& member, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(member, ": ", what));
}

// Maps a descr string ("<i4", "|b1", ...) to a dtype. One-byte types take any byte-order mark.
StatusOr<NpyDtype> ParseDescr(const std::string& descr, const std::string& member) {
  if (descr.size() >= 3) {
    const char order = descr[0];
    const char kind = descr[1];
    const std::string digits = descr.substr(2);
    for (const DtypeInfo& info : kDtypes) {
      if (info.kind != kind || digits != std::to_string(info.size)) continue;
      const bool order_ok = info.size == 1 ? (order == '|' || order == '<' || order == '>' || order == '=')
                                           : (order == '<' || order == '=');
      if (order_ok) return info.dtype;
      if (order == '>') return Invalid(member, absl::StrCat("expected a little-endian dtype, got ", descr));
    }
  }
  return Invalid(member, absl::StrCat("expected a simple numeric dtype (|b1 |u1 |i1 <i2 <u2 <i4 <u4 <i8 "
                                      "<u8 <f4 <f8), got '", descr, "'"));
}

// A minimal parser for the header dict numpy writes: string keys; values are strings, True/False or tuples
// of integers. Anything else (e.g. a structured dtype's list) is reported as unsupported.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& member) : s_(text), member_(member) {}

  Status Parse(std::string* descr, bool* fortran_order, std::vector<int64_t>* shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    SkipSpace();
    if (!Consume('{')) return Error("'{'");
    while (true) {
      SkipSpace();
      if (Consume('}')) break;
      std::string key;
      TUTTI_RETURN_IF_ERROR(ParseString(&key));
      SkipSpace();
      if (!Consume(':')) return Error("':'");
      SkipSpace();
      if (key == "descr") {
        if (Peek() != '\'' && Peek() != '"') {
          return Invalid(member_, "expected a simple dtype string in 'descr', got a structured dtype");
        }
        TUTTI_RETURN_IF_ERROR(ParseString(descr));
        have_descr = true;
      } else if (key == "fortran_order") {
        TUTTI_RETURN_IF_ERROR(ParseBool(fortran_order));
        have_order = true;
      } else if (key == "shape") {
        TUTTI_RETURN_IF_ERROR(ParseTuple(shape));
        have_shape = true;
      } else {
        return Invalid(member_, absl::StrCat("expected header keys descr, fortran_order, shape, got '", key,
                                             "'"));
      }
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume('}')) break;
      return Error("',' or '}'");
    }
    if (!have_descr || !have_order || !have_shape) {
      return Invalid(member_, "expected header keys descr, fortran_order and shape, got some missing");
    }
    return absl::OkStatus();
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Consume(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  Status Error(const char* expected) const {
    return Invalid(member_, absl::StrCat("expected ", expected, " at byte ", pos_, " of the .npy header, got '",
                                         std::string(s_.substr(pos_, 12)), "'"));
  }
  Status ParseString(std::string* out) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') return Error("a quoted string");
    const size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) return Error("a closing quote");
    out->assign(s_.data() + pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return absl::OkStatus();
  }
  Status ParseBool(bool* out) {
    if (s_.substr(pos_, 4) == "True") {
      *out = true;
      pos_ += 4;
    } else if (s_.substr(pos_, 5) == "False") {
      *out = false;
      pos_ += 5;
    } else {
      return Error("True or False");
    }
    return absl::OkStatus();
  }
  Status ParseTuple(std::vector<int64_t>* out) {
    out->clear();
    if (!Consume('(')) return Error("a shape tuple");
    while (true) {
      SkipSpace();
      if (Consume(')')) return absl::OkStatus();
      int64_t value = 0;
      const size_t start = pos_;
      while (Peek() >= '0' && Peek() <= '9') {
        if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) return Error("a dimension below 2^63");
        value = value * 10 + (s_[pos_++] - '0');
      }
      if (pos_ == start) return Error("a non-negative dimension");
      Consume('L');  // Python 2 longs
      out->push_back(value);
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume(')')) return absl::OkStatus();
      return Error("',' or ')' in the shape");
    }
  }

  std::string_view s_;
  const std::string& member_;
  size_t pos_ = 0;
};

// Whether integer (or float, for double targets) `v` is representable in T. Branches are chosen at compile
// time so that no always-true comparison is instantiated (-Wtype-limits).
template <typename T, typename S>
bool InRange(S v) {
  if constexpr (std::is_floating_point_v<T>) {
    return true;
  } else if constexpr (std::is_signed_v<S> == std::is_signed_v<T>) {
    if constexpr (sizeof(S) <= sizeof(T)) {
      return true;
    } else if constexpr (std::is_signed_v<S>) {
      return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
    } else {
      return v <= std::numeric_limits<T>::max();
    }
  } else if constexpr (std::is_signed_v<S>) {  // signed -> unsigned
    if constexpr (sizeof(S) <= sizeof(T)) {
      return v >= 0;
    } else {
      return v >= 0 && v <= static_cast<S>(std::numeric_limits<T>::max());
    }
  } else {  // unsigned -> signed
    if constexpr (sizeof(S) < sizeof(T)) {
      return true;
    } else {
      return v <= static_cast<std::make_unsigned_t<T>>(std::numeric_limits<T>::max());
    }
  }
}

// Flat C-order index -> byte offset of the element in a Fortran-order buffer, walked incrementally.
class FortranWalker {
 public:
  explicit FortranWalker(const std::vector<int64_t>& shape) : shape_(shape), index_(shape.size(), 0) {
    stride_.resize(shape.size());
    int64_t s = 1;
    for (size_t k = 0; k < shape.size(); ++k) {
      stride_[k] = s;
      s *= shape[k];
    }
  }
  int64_t offset() const { return offset_; }
  void Next() {  // advance the C-order multi-index (last dimension fastest)
    for (size_t k = shape_.size(); k-- > 0;) {
      if (++index_[k] < shape_[k]) {
        offset_ += stride_[k];
        return;
      }
      offset_ -= stride_[k] * (index_[k] - 1);
      index_[k] = 0;
    }
  }

 private:
  const std::vector<int64_t>& shape_;
  std::vector<int64_t> index_;
  std::vector<int64_t> stride_;
  int64_t offset_ = 0;
};

template <typename S, typename T, bool kIsBool>
Status ConvertTyped(const NpyArray& a, std::vector<T>* out) {
  const bool contiguous = a.IsCContiguous();
  if constexpr (std::is_same_v<S, T> && !kIsBool) {
    if (contiguous) {
      if (reinterpret_cast<uintptr_t>(a.data) % alignof(T) == 0) {  // numpy aligns data to 64 bytes
        const T* first = reinterpret_cast<const T*>(a.data);
        out->assign(first, first + a.size);  // one copy, no zero-fill first
      } else {
        out->resize(static_cast<size_t>(a.size));
        if (a.size > 0) std::memcpy(out->data(), a.data, static_cast<size_t>(a.size) * sizeof(T));
      }
      return absl::OkStatus();
    }
  }
  if constexpr (std::is_integral_v<T> && std::is_floating_point_v<S>) {
    return Invalid(a.member, absl::StrCat("expected an integer or bool dtype, got ", NpyDtypeName(a.dtype)));
  } else {
    out->resize(static_cast<size_t>(a.size));
    T* dst = out->data();
    FortranWalker walker(a.shape);
    for (int64_t i = 0; i < a.size; ++i) {
      const int64_t element = contiguous ? i : walker.offset();
      S v;
      std::memcpy(&v, a.data + element * static_cast<int64_t>(sizeof(S)), sizeof(S));
      if constexpr (kIsBool) {
        dst[i] = static_cast<T>(v != 0);
      } else {
        if (!InRange<T>(v)) {
          return absl::OutOfRangeError(absl::StrCat(a.member, ": expected values that fit ", sizeof(T) * 8,
                                                    "-bit integers, got ", v, " at index ", i));
        }
        dst[i] = static_cast<T>(v);
      }
      if (!contiguous) walker.Next();
    }
    return absl::OkStatus();
  }
}

}  // namespace

const char* NpyDtypeName(NpyDtype dtype) { return Info(dtype).name; }
size_t NpyDtypeSize(NpyDtype dtype) { return Info(dtype).size; }

bool NpyArray::IsCContiguous() const {
  if (!fortran_order) return true;
  int longer_than_one = 0;
  for (int64_t d : shape) longer_than_one += d > 1;
  return longer_than_one <= 1;
}

std::string NpyArray::ShapeString() const {
  std::string s = "(";
  for (size_t k = 0; k < shape.size(); ++k) {
    absl::StrAppend(&s, k ? ", " : "", shape[k]);
  }
  absl::StrAppend(&s, shape.size() == 1 ? ",)" : ")");
  return s;
}

StatusOr<NpyArray> ParseNpy(std::string_view bytes, const std::string& member) {
  if (bytes.size() < kMagicSize + 4 || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    return Invalid(member, absl::StrCat("expected a .npy file (magic \\x93NUMPY), got ", bytes.size(),
                                        " bytes without it"));
  }
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  const uint8_t minor = static_cast<uint8_t>(bytes[7]);
  size_t header_len = 0, prefix = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (major == 1 && minor == 0) {
    header_len = p[8] | (p[9] << 8);
    prefix = 10;
  } else if ((major == 2 || major == 3) && minor == 0 && bytes.size() >= 12) {
    header_len = static_cast<size_t>(p[8]) | (static_cast<size_t>(p[9]) << 8) |
                 (static_cast<size_t>(p[10]) << 16) | (static_cast<size_t>(p[11]) << 24);
    prefix = 12;
  } else {
    return Invalid(member, absl::StrCat("expected .npy version 1.0, 2.0 or 3.0, got ", static_cast<int>(major), ".",
                                        static_cast<int>(minor)));
  }
  if (header_len > bytes.size() - prefix) {
    return Invalid(member, absl::StrCat("expected a header of ", header_len, " bytes, got only ",
                                        bytes.size() - prefix));
  }
  NpyArray array;
  array.member = member;
  std::string descr;
  HeaderParser parser(bytes.substr(prefix, header_len), member);
  TUTTI_RETURN_IF_ERROR(parser.Parse(&descr, &array.fortran_order, &array.shape));
  TUTTI_ASSIGN_OR_RETURN(array.dtype, ParseDescr(descr, member));

  int64_t size = 1;
  for (int64_t d : array.shape) {
    if (__builtin_mul_overflow(size, d, &size)) {
      return Invalid(member, absl::StrCat("expected a shape whose size fits 64 bits, got ", array.ShapeString()));
    }
  }
  array.size = size;
  const size_t data_bytes = bytes.size() - prefix - header_len;
  const size_t itemsize = NpyDtypeSize(array.dtype);
  if (static_cast<uint64_t>(size) > data_bytes / itemsize || static_cast<uint64_t>(size) * itemsize != data_bytes) {
    return Invalid(member, absl::StrCat("expected ", size, " x ", itemsize, " data bytes for shape ",
                                        array.ShapeString(), ", got ", data_bytes));
  }
  array.data = p + prefix + header_len;
  return array;
}

Status ExpectDtype(const NpyArray& array, std::initializer_list<NpyDtype> allowed) {
  std::string names;
  for (NpyDtype d : allowed) {
    if (d == array.dtype) return absl::OkStatus();
    absl::StrAppend(&names, names.empty() ? "" : " or ", NpyDtypeName(d));
  }
  return Invalid(array.member, absl::StrCat("expected dtype ", names, ", got ", NpyDtypeName(array.dtype)));
}

template <typename T>
Status CopyToCOrder(const NpyArray& a, std::vector<T>* out) {
  switch (a.dtype) {
    case NpyDtype::kBool: return ConvertTyped<uint8_t, T, true>(a, out);
    case NpyDtype::kUint8: return ConvertTyped<uint8_t, T, false>(a, out);
    case NpyDtype::kInt8: return ConvertTyped<int8_t, T, false>(a, out);
    case NpyDtype::kInt16: return ConvertTyped<int16_t, T, false>(a, out);
    case NpyDtype::kUint16: return ConvertTyped<uint16_t, T, false>(a, out);
    case NpyDtype::kInt32: return ConvertTyped<int32_t, T, false>(a, out);
    case NpyDtype::kUint32: return ConvertTyped<uint32_t, T, false>(a, out);
    case NpyDtype::kInt64: return ConvertTyped<int64_t, T, false>(a, out);
    case NpyDtype::kUint64: return ConvertTyped<uint64_t, T, false>(a, out);
    case NpyDtype::kFloat32: return ConvertTyped<float, T, false>(a, out);
    case NpyDtype::kFloat64: return ConvertTyped<double, T, false>(a, out);
  }
  return absl::InternalError("unreachable dtype");
}

template Status CopyToCOrder<uint8_t>(const NpyArray&, std::vector<uint8_t>*);
template Status CopyToCOrder<int32_t>(const NpyArray&, std::vector<int32_t>*);
template Status CopyToCOrder<int64_t>(const NpyArray&, std::vector<int64_t>*);
template Status CopyToCOrder<double>(const NpyArray&, std::vector<double>*);

void AppendNpy(NpyDtype dtype, const std::vector<int64_t>& shape, const void* data, std::string* out) {
  std::string header = absl::StrCat("{'descr': '", NpyDtypeName(dtype), "', 'fortran_order': False, 'shape': (");
  int64_t size = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    absl::StrAppend(&header, k ? ", " : "", shape[k]);
    size *= shape[k];
  }
  absl::StrAppend(&header, shape.size() == 1 ? ",), }" : "), }");
  // Pad with spaces so that magic + version + length + header (ending in '\n') is a multiple of 64.
  const size_t unpadded = kMagicSize + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  const size_t data_bytes = static_cast<size_t>(size) * NpyDtypeSize(dtype);
  out->reserve(out->size() + 10 + header.size() + data_bytes);
  out->append(kMagic, kMagicSize);
  out->push_back('\x01');
  out->push_back('\x00');
  out->push_back(static_cast<char>(header.size() & 0xff));
  out->push_back(static_cast<char>(header.size() >> 8));
  out->append(header);
  if (data_bytes > 0) out->append(static_cast<const char*>(data), data_bytes);
}

std::string SerializeNpy(NpyDtype dtype, const std::vector<int64_t>& shape, const void* data) {
  std::string out;
  AppendNpy(dtype, shape, data, &out);
  return out;
}

}  // namespace tutti
