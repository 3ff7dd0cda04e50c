#include "core/npz/npy.h"

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tutti {
namespace {

using ::testing::HasSubstr;

const std::string kDir = std::string(TUTTI_TESTDATA_DIR) + "/npz/";

std::string ReadFixture(const std::string& name) {
  StatusOr<std::string> bytes = ReadFileToString(kDir + name);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

// A .npy built by hand around `header` (version 1.0) and `data`.
std::string HandMade(const std::string& header, const std::string& data) {
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

TEST(NpyTest, RoundTripEveryDtype) {
  const std::vector<int64_t> shape = {2, 3};
  const std::vector<uint8_t> bytes = {1, 0, 1, 1, 0, 1};
  const std::vector<int32_t> i4 = {-5, 0, 7, 1 << 30, -(1 << 30), 42};
  const std::vector<double> f8 = {0.5, -1.25, 120.0, 90.5, 1e300, 0};
  struct Case {
    NpyDtype dtype;
    const void* data;
  };
  for (const Case& c : {Case{NpyDtype::kBool, bytes.data()}, Case{NpyDtype::kUint8, bytes.data()},
                        Case{NpyDtype::kInt32, i4.data()}, Case{NpyDtype::kFloat64, f8.data()}}) {
    const std::string npy = SerializeNpy(c.dtype, shape, c.data);
    EXPECT_EQ((npy.size() - 6 * NpyDtypeSize(c.dtype)) % 64, 0u) << "data starts 64-byte aligned";
    StatusOr<NpyArray> a = ParseNpy(npy, "x.npy");
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->dtype, c.dtype);
    EXPECT_FALSE(a->fortran_order);
    EXPECT_EQ(a->shape, shape);
    EXPECT_EQ(a->size, 6);
    EXPECT_EQ(a->ShapeString(), "(2, 3)");
    std::vector<double> values;
    ASSERT_TRUE(CopyToCOrder(*a, &values).ok());
    for (size_t i = 0; i < 6; ++i) {
      const double expected = c.dtype == NpyDtype::kInt32     ? i4[i]
                              : c.dtype == NpyDtype::kFloat64 ? f8[i]
                                                              : bytes[i];
      EXPECT_EQ(values[i], expected) << NpyDtypeName(c.dtype) << " element " << i;
    }
  }
}

TEST(NpyTest, OneDimensionalAndScalarShapes) {
  // ParseNpy returns a view into its buffer: each serialized file is kept alive while its view is read
  // (a temporary here was a heap-use-after-free that AddressSanitizer found).
  const std::vector<int64_t> v = {3, 1, 4, 1, 5};
  const std::string v_npy = SerializeNpy(NpyDtype::kInt64, {5}, v.data());
  StatusOr<NpyArray> a = ParseNpy(v_npy, "v.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->ShapeString(), "(5,)");
  std::vector<int32_t> out;
  ASSERT_TRUE(CopyToCOrder(*a, &out).ok());
  EXPECT_EQ(out, (std::vector<int32_t>{3, 1, 4, 1, 5}));

  const double pi = 3.5;
  const std::string s_npy = SerializeNpy(NpyDtype::kFloat64, {}, &pi);
  StatusOr<NpyArray> s = ParseNpy(s_npy, "s.npy");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->ndim(), 0);
  EXPECT_EQ(s->size, 1);
  EXPECT_EQ(s->ShapeString(), "()");

  const std::string e_npy = SerializeNpy(NpyDtype::kBool, {0}, nullptr);
  StatusOr<NpyArray> e = ParseNpy(e_npy, "e.npy");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->size, 0);
}

TEST(NpyTest, FortranOrderFromNumpyIsReturnedInCOrder) {
  const std::string bytes = ReadFixture("f_order_i2.npy");  // np.arange(24, int16).reshape(2,3,4) - 5, F order
  StatusOr<NpyArray> a = ParseNpy(bytes, "f_order_i2.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->fortran_order);
  EXPECT_FALSE(a->IsCContiguous());
  EXPECT_EQ(a->dtype, NpyDtype::kInt16);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3, 4}));
  std::vector<int64_t> values;
  ASSERT_TRUE(CopyToCOrder(*a, &values).ok());
  for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(values[i], i - 5) << "C-order element " << i;
}

TEST(NpyTest, Versions2And3FromNumpy) {
  for (const char* name : {"v2_u4.npy", "v3_u4.npy"}) {
    const std::string a_npy = ReadFixture(name);
    StatusOr<NpyArray> a = ParseNpy(a_npy, name);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->dtype, NpyDtype::kUint32);
    std::vector<int32_t> values;
    ASSERT_TRUE(CopyToCOrder(*a, &values).ok());
    EXPECT_EQ(values, (std::vector<int32_t>{0, 1, 2, 3, 4}));
  }
}

TEST(NpyTest, BigEndianIsRejectedByName) {
  const std::string a_npy = ReadFixture("big_endian.npy");
  StatusOr<NpyArray> a = ParseNpy(a_npy, "big_endian.npy");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(std::string(a.status().message()),
              HasSubstr("big_endian.npy: expected a little-endian dtype, got >i4"));
}

TEST(NpyTest, HeaderVariantsNumpyMayWrite) {
  // Python 2 longs, double quotes, keys in another order, no trailing comma.
  const std::string header = "{\"shape\": (2L, 1L), 'fortran_order': True, 'descr': '|u1'}   \n";
  const std::string a_npy = HandMade(header, "\x07\x09");
  StatusOr<NpyArray> a = ParseNpy(a_npy, "p2.npy");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 1}));
  EXPECT_TRUE(a->IsCContiguous());  // (2, 1) reads the same in both orders
  std::vector<uint8_t> v;
  ASSERT_TRUE(CopyToCOrder(*a, &v).ok());
  EXPECT_EQ(v, (std::vector<uint8_t>{7, 9}));
}

TEST(NpyTest, ErrorsSayExpectedAndGot) {
  auto message = [](const std::string& bytes) {
    StatusOr<NpyArray> a = ParseNpy(bytes, "m.npy");
    EXPECT_FALSE(a.ok());
    return a.ok() ? std::string() : std::string(a.status().message());
  };
  EXPECT_THAT(message("PK\x03\x04 not npy"), HasSubstr("m.npy: expected a .npy file"));
  const std::string header = "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }\n";
  EXPECT_THAT(message(HandMade(header, std::string(8, '\0'))),
              HasSubstr("m.npy: expected 3 x 4 data bytes for shape (3,), got 8"));
  EXPECT_THAT(message(HandMade("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,)}\n",
                               std::string(4, '\0'))),
              HasSubstr("structured dtype"));
  EXPECT_THAT(message(HandMade("{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}\n", "")),
              HasSubstr("expected a simple numeric dtype"));
  EXPECT_THAT(message(HandMade("{'descr': '<i4', 'shape': (1,)}\n", std::string(4, '\0'))),
              HasSubstr("missing"));
  std::string v9 = HandMade(header, std::string(12, '\0'));
  v9[6] = 9;
  EXPECT_THAT(message(v9), HasSubstr("expected .npy version 1.0, 2.0 or 3.0, got 9.0"));
  EXPECT_THAT(message(HandMade(header, "").substr(0, 20)), HasSubstr("expected a header of"));
}

TEST(NpyTest, ExpectDtypeMessage) {
  const float f[3] = {1, 2, 3};
  const std::string a_npy = SerializeNpy(NpyDtype::kFloat32, {3}, f);
  StatusOr<NpyArray> a = ParseNpy(a_npy, "pianoroll_0_csc_indptr.npy");
  ASSERT_TRUE(a.ok());
  Status s = ExpectDtype(*a, {NpyDtype::kInt32, NpyDtype::kInt64});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "pianoroll_0_csc_indptr.npy: expected dtype <i4 or <i8, got <f4");
  EXPECT_TRUE(ExpectDtype(*a, {NpyDtype::kFloat32}).ok());
  std::vector<int32_t> ints;
  EXPECT_THAT(std::string(CopyToCOrder(*a, &ints).message()), HasSubstr("expected an integer or bool dtype"));
}

TEST(NpyTest, ValuesThatDoNotFitAreOutOfRange) {
  const int64_t big[2] = {1, int64_t{1} << 40};
  const std::string a_npy = SerializeNpy(NpyDtype::kInt64, {2}, big);
  StatusOr<NpyArray> a = ParseNpy(a_npy, "big.npy");
  ASSERT_TRUE(a.ok());
  std::vector<int32_t> out;
  Status s = CopyToCOrder(*a, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("big.npy: expected values that fit 32-bit integers, got "
                                                  "1099511627776 at index 1"));
  const int8_t negative[1] = {-1};
  const std::string n_npy = SerializeNpy(NpyDtype::kInt8, {1}, negative);
  StatusOr<NpyArray> n = ParseNpy(n_npy, "n.npy");
  ASSERT_TRUE(n.ok());
  std::vector<uint8_t> bytes;
  EXPECT_EQ(CopyToCOrder(*n, &bytes).code(), absl::StatusCode::kOutOfRange);
  const uint64_t huge[1] = {~uint64_t{0}};
  const std::string h_npy = SerializeNpy(NpyDtype::kUint64, {1}, huge);
  StatusOr<NpyArray> h = ParseNpy(h_npy, "h.npy");
  ASSERT_TRUE(h.ok());
  std::vector<int64_t> wide;
  EXPECT_EQ(CopyToCOrder(*h, &wide).code(), absl::StatusCode::kOutOfRange);
}

TEST(NpyTest, BoolValuesAreNormalised) {
  const uint8_t raw[3] = {0, 2, 1};
  const std::string a_npy = SerializeNpy(NpyDtype::kBool, {3}, raw);
  StatusOr<NpyArray> a = ParseNpy(a_npy, "b.npy");
  ASSERT_TRUE(a.ok());
  std::vector<uint8_t> out;
  ASSERT_TRUE(CopyToCOrder(*a, &out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 1, 1}));
}

}  // namespace
}  // namespace tutti
