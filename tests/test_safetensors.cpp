// The safetensors reader on good, truncated and corrupt files, and the atomic writer.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "test_util.h"

using namespace bigbird;
using bigbird::test::TempDir;

namespace {
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  uint64_t n = header.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f << header << data;
}
std::string error_of(const std::string& path) {
  try {
    SafeTensors::open(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(SafeTensors, RoundTripKeepsNamesShapesDataAndMetadata) {
  TempDir dir;
  const std::string path = dir.file("t.safetensors");
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  std::vector<int64_t> i = {1, -2, 1ll << 40};
  std::vector<int32_t> j = {4, 5};
  write_safetensors(path,
                    {OutTensor::f32("a", {2, 3}, f.data()), OutTensor::i64("b", {3}, i.data()),
                     OutTensor::i32("c", {1, 2}, j.data())},
                    {{"k", "v"}});
  SafeTensors st = SafeTensors::open(path);
  EXPECT_EQ(st.names().size(), 3u);
  EXPECT_EQ(st.entry("a").shape, (Shape{2, 3}));
  EXPECT_EQ(st.read_f32("a").data, f);
  EXPECT_EQ(st.read_i64("b").data, i);
  EXPECT_EQ(st.read_i64("c").data, (std::vector<int64_t>{4, 5}));
  ASSERT_NE(st.f32_in_place("a"), nullptr);
  EXPECT_EQ(st.f32_in_place("a")[2], 3.25f);
  EXPECT_EQ(st.metadata().at("k"), "v");
  EXPECT_THROW(st.read_f32("b"), Error);  // integer tensor read as float
  EXPECT_THROW(st.read_i64("a"), Error);  // float tensor read as integer
  EXPECT_THROW(st.entry("zzz"), Error);
}

TEST(SafeTensors, ConvertsF16AndBF16) {
  TempDir dir;
  const std::string path = dir.file("h.safetensors");
  // F16: 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff, smallest subnormal 0x0001 = 2^-24.
  // BF16: 1.0 = 0x3f80, -0.15625 = 0xbe20.
  const uint16_t h[] = {0x3c00, 0xc100, 0x7bff, 0x0001};
  const uint16_t b[] = {0x3f80, 0xbe20};
  std::string data(reinterpret_cast<const char*>(h), 8);
  data.append(reinterpret_cast<const char*>(b), 4);
  write_raw(
      path,
      R"({"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}})",
      data);
  SafeTensors st = SafeTensors::open(path);
  EXPECT_EQ(st.read_f32("h").data, (std::vector<float>{1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(st.read_f32("b").data, (std::vector<float>{1.0f, -0.15625f}));
  EXPECT_EQ(st.f32_in_place("h"), nullptr);
}

TEST(SafeTensors, RejectsBadFilesWithClearMessages) {
  TempDir dir;
  auto expect_error = [&](const std::string& name, const std::string& header, const std::string& data,
                          const std::string& needle) {
    const std::string path = dir.file(name);
    write_raw(path, header, data);
    const std::string msg = error_of(path);
    EXPECT_NE(msg.find(needle), std::string::npos) << name << ": '" << msg << "'";
    EXPECT_NE(msg.find(name), std::string::npos) << "message should name the file: " << msg;
  };
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_error("not_json.st", "{not json", "", "not valid JSON");
  expect_error("array.st", "[1,2]", "", "not a JSON object");
  expect_error("bad_dtype.st", R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'),
               "unsupported dtype");
  expect_error("neg_dim.st", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", std::string(8, '\0'),
               "bad dimension");
  expect_error("oob.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}})", std::string(8, '\0'),
               "out of bounds");
  expect_error("reversed.st", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, '\0'),
               "out of bounds");
  expect_error("size_mismatch.st", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'),
               "needs 12");
  expect_error("missing_field.st", R"({"a":{"dtype":"F32","shape":[2]}})", "", "data_offsets");
  expect_error("huge_shape.st",
               R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})",
               std::string(8, '\0'), "too large");
  // Truncated data section: header fine, data cut short.
  expect_error("truncated.st", ok, std::string(4, '\0'), "out of bounds");

  // Header length larger than the file, and larger than the 100 MB limit.
  const std::string p1 = dir.file("hdr_past_end.st");
  {
    std::ofstream f(p1, std::ios::binary);
    uint64_t n = 1000;
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << "{}";
  }
  EXPECT_NE(error_of(p1).find("runs past the end"), std::string::npos) << error_of(p1);
  const std::string p2 = dir.file("hdr_huge.st");
  {
    std::ofstream f(p2, std::ios::binary);
    uint64_t n = 1ull << 60;
    f.write(reinterpret_cast<const char*>(&n), 8);
  }
  EXPECT_NE(error_of(p2).find("100 MB"), std::string::npos) << error_of(p2);
  // Shorter than the length prefix; empty; missing; a directory.
  const std::string p3 = dir.file("short.st");
  std::ofstream(p3) << "abc";
  EXPECT_NE(error_of(p3).find("shorter than"), std::string::npos);
  const std::string p4 = dir.file("empty.st");
  std::ofstream(p4).flush();
  EXPECT_NE(error_of(p4).find("shorter than"), std::string::npos);
  EXPECT_NE(error_of(dir.file("missing.st")).find("cannot open"), std::string::npos);
  EXPECT_NE(error_of(dir.path.string()).find("not a regular file"), std::string::npos);
}

// Issue 11, item 8: a tensor named twice (JSON keeps the last) and tensors sharing bytes were
// accepted; both are corrupt files now. Empty tensors take no bytes and may sit anywhere.
TEST(SafeTensors, RejectsDuplicateNamesAndOverlappingData) {
  TempDir dir;
  auto msg = [&](const std::string& header, size_t bytes) {
    write_raw(dir.file("t.st"), header, std::string(bytes, '\0'));
    return error_of(dir.file("t.st"));
  };
  std::string e = msg(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                      12);
  EXPECT_NE(e.find("safetensors header names tensor 'a' twice"), std::string::npos) << e;
  e = msg(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          12);
  EXPECT_NE(e.find("tensors 'a' (data_offsets [0, 8]) and 'b' ([4, 12]) overlap"), std::string::npos) << e;
  e = msg(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
          8);
  EXPECT_NE(e.find("overlap"), std::string::npos) << e;
  // Adjacent tensors, an empty one inside another's range, and nested metadata keys named alike.
  EXPECT_EQ(msg(R"({"__metadata__":{"a":"x"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                12),
            "");
}

TEST(SafeTensors, EveryTruncationOfAValidFileFailsCleanly) {
  TempDir dir;
  const std::string good = dir.file("good.st");
  std::vector<float> f(10, 1.0f);
  write_safetensors(good, {OutTensor::f32("a", {10}, f.data()), OutTensor::f32("b", {2, 5}, f.data())});
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string p = dir.file("cut.st");
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes.substr(0, cut);
    EXPECT_THROW(SafeTensors::open(p), Error) << "cut at " << cut;
  }
}

TEST(SafeTensors, WriterLeavesNoPartialFileOnFailure) {
  TempDir dir;
  const std::string path = dir.file("no_such_dir/out.safetensors");
  std::vector<float> f(4, 0.0f);
  EXPECT_THROW(write_safetensors(path, {OutTensor::f32("a", {4}, f.data())}), Error);
  EXPECT_FALSE(std::filesystem::exists(path));
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) (void)e, ++files;
  EXPECT_EQ(files, 0u);
}
