// vnet/kernel/file: what a user may name as a lab, conflist or certificate, read safely.
#include "vnet/kernel/file.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

namespace mkn::vnet {
namespace {

using ::testing::HasSubstr;

class ReadUserFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mkn-file-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& body) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << body;
    return p;
  }
  std::string dir_;
};

TEST_F(ReadUserFileTest, ARegularFileIsReadWhole) {
  auto r =
      ReadUserFile(Write("lab.toml", "[cluster]\nname = \"x\"\n"), kMaxLabFileBytes, "a lab file");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "[cluster]\nname = \"x\"\n");
  auto empty = ReadUserFile(Write("empty", ""), 10, "a lab file");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(ReadUserFileTest, AFifoIsRefusedAtOnceNotWaitedOn) {
  std::string fifo = dir_ + "/lab.toml";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto r = ReadUserFile(fifo, kMaxLabFileBytes, "a lab file");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), fifo + ": not a regular file (a FIFO): a lab file must be one");
}

TEST_F(ReadUserFileTest, DevicesAndDirectoriesAreRefused) {
  auto zero = ReadUserFile("/dev/zero", kMaxPemBytes, "a certificate");
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.status().message(),
            "/dev/zero: not a regular file (a character device): a certificate must be one");
  auto dir = ReadUserFile(dir_, kMaxConflistBytes, "a conflist");
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(std::string(dir.status().message()), HasSubstr("not a regular file (a directory)"));
}

TEST_F(ReadUserFileTest, TheCapIsNamed) {
  auto r = ReadUserFile(Write("big", std::string(3000, 'x')), 2048, "a conflist");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(), dir_ + "/big: 3000 bytes, over the 2 KiB limit for a conflist");
  EXPECT_TRUE(ReadUserFile(Write("fits", std::string(2048, 'x')), 2048, "a conflist").ok());
}

TEST_F(ReadUserFileTest, MissingAndUnreadableFilesSayWhy) {
  auto r = ReadUserFile(dir_ + "/nope.toml", kMaxLabFileBytes, "a lab file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nope.toml"));
}

// Standard input as the lab ("validate -"): read to EOF, with the same cap.
class StdinTest : public ReadUserFileTest {
 protected:
  void SetUp() override {
    ReadUserFileTest::SetUp();
    saved_ = ::dup(STDIN_FILENO);
    ASSERT_GE(saved_, 0);
  }
  void TearDown() override {
    ::dup2(saved_, STDIN_FILENO);
    ::close(saved_);
    ReadUserFileTest::TearDown();
  }
  void StdinFrom(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ::dup2(fd, STDIN_FILENO);
    ::close(fd);
  }
  int saved_ = -1;
};

TEST_F(StdinTest, ReadToItsEnd) {
  StdinFrom(Write("lab.toml", "[cluster]\nname = \"x\"\n"));
  auto r = ReadStandardInput(kMaxLabFileBytes, "a lab file");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "[cluster]\nname = \"x\"\n");
}

TEST_F(StdinTest, ThePipeIsCappedWhereverItEnds) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  ::dup2(p[0], STDIN_FILENO);
  ::close(p[0]);
  const std::string body(5000, 'x');  // fits the pipe's buffer: no writer thread needed
  ASSERT_EQ(::write(p[1], body.data(), body.size()), static_cast<ssize_t>(body.size()));
  ::close(p[1]);
  auto r = ReadStandardInput(2048, "a lab file");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("standard input: 2049 bytes read so far, over the 2 KiB limit"));
}

}  // namespace
}  // namespace mkn::vnet
