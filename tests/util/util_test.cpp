#include <poetryops/util/backoff.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/result.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace poetryops {
namespace {

Result<int> parse_positive(int v) {
    if (v <= 0) return fail(Error::Kind::invalid, "not positive: " + std::to_string(v));
    return v;
}

Result<int> doubled(int v) {
    POETRYOPS_TRY(int x, parse_positive(v));
    return x * 2;
}

TEST(Result, ValuesErrorsAndPropagation) {
    auto good = doubled(21);
    ASSERT_TRUE(good);
    EXPECT_EQ(*good, 42);
    auto bad = doubled(-1);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, Error::Kind::invalid);
    EXPECT_EQ(bad.error().message, "not positive: -1");
    EXPECT_EQ(bad.value_or(7), 7);
    Result<void> v = ok();
    EXPECT_TRUE(v);
}

TEST(Strings, Base64RoundTripAndRejectsGarbage) {
    for (std::string s : {"", "a", "ab", "abc", "abcd", "user:p@ss\xff"}) {
        std::string back;
        ASSERT_TRUE(str::base64_decode(str::base64_encode(s), back));
        EXPECT_EQ(back, s);
    }
    EXPECT_EQ(str::base64_encode("user:pass"), "dXNlcjpwYXNz");
    std::string out;
    EXPECT_FALSE(str::base64_decode("dXN!cjpw", out));
    EXPECT_FALSE(str::base64_decode("dXNl=cjpw", out));
}

TEST(Strings, Sha256AndHelpers) {
    EXPECT_EQ(str::sha256_hex(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(str::sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(str::split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
    EXPECT_EQ(str::split_nonempty(" a , ,b ", ','), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(str::url_encode("a b/c"), "a%20b%2Fc");
    EXPECT_TRUE(str::iequals("Content-Type", "content-type"));
}

TEST(Clock, Rfc3339RoundTripAndOffsets) {
    ManualClock c;
    EXPECT_EQ(format_rfc3339(c.now()), "2026-01-01T00:00:00Z");
    c.advance(std::chrono::hours(25) + std::chrono::seconds(7));
    EXPECT_EQ(format_rfc3339(c.now()), "2026-01-02T01:00:07Z");
    Clock::time_point t;
    ASSERT_TRUE(parse_rfc3339("2026-03-04T05:06:07.5+01:00", t));
    EXPECT_EQ(format_rfc3339(t), "2026-03-04T04:06:07Z");
    EXPECT_FALSE(parse_rfc3339("2026-13-04T05:06:07Z", t));
    EXPECT_FALSE(parse_rfc3339("2026-03-04 05:06", t));
    EXPECT_FALSE(parse_rfc3339("2026-03-04T05:06:07Zjunk", t));
}

TEST(Backoff, GrowsWithJitterUpToTheCap) {
    Backoff b(std::chrono::milliseconds(100), std::chrono::milliseconds(1000), 42);
    auto d0 = b.next();
    EXPECT_GE(d0.count(), 50);
    EXPECT_LE(d0.count(), 100);
    auto d1 = b.next();
    EXPECT_GE(d1.count(), 100);
    EXPECT_LE(d1.count(), 200);
    for (int i = 0; i < 10; ++i) EXPECT_LE(b.next().count(), 1000);
    b.reset();
    EXPECT_LE(b.next().count(), 100);
}

TEST(Files, AtomicWriteKeepsModeAndLeavesNoTempFiles) {
    TempDir dir;
    auto p = dir.path() / "f.txt";
    ASSERT_TRUE(write_file_atomic(p, "one", 0600));
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_TRUE(write_file_atomic(p, "two"));
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(*read_file(p), "two");
    int entries = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
    EXPECT_EQ(entries, 1);
}

TEST(Files, ErrorsNameThePath) {
    TempDir dir;
    auto missing = read_file(dir.path() / "nope.toml");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, Error::Kind::not_found);
    EXPECT_NE(missing.error().message.find("nope.toml"), std::string::npos);
    auto w = write_file_atomic(dir.path() / "no-such-dir" / "f", "x");
    ASSERT_FALSE(w);
    EXPECT_NE(w.error().message.find("no-such-dir/f"), std::string::npos);
    ASSERT_TRUE(write_file_atomic(dir.path() / "big", std::string(100, 'x')));
    auto big = read_file(dir.path() / "big", 10);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().kind, Error::Kind::invalid);
}

TEST(Files, TempDirRemovesItself) {
    std::filesystem::path p;
    {
        TempDir d("poetryops-test");
        p = d.path();
        ASSERT_TRUE(write_file_atomic(p / "x", "y"));
        EXPECT_TRUE(std::filesystem::exists(p));
    }
    EXPECT_FALSE(std::filesystem::exists(p));
}

}  // namespace
}  // namespace poetryops

TEST(Strings, ShellQuoteSurvivesQuotes) {
    EXPECT_EQ(poetryops::str::shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    EXPECT_EQ(poetryops::str::shell_quote(""), "''");
}

TEST(Strings, IsPort) {
    using poetryops::str::is_port;
    EXPECT_TRUE(is_port("1"));
    EXPECT_TRUE(is_port("5000"));
    EXPECT_TRUE(is_port("65535"));
    EXPECT_FALSE(is_port(""));
    EXPECT_FALSE(is_port("0"));
    EXPECT_FALSE(is_port("65536"));
    EXPECT_FALSE(is_port("99999"));
    EXPECT_FALSE(is_port("123456"));
    EXPECT_FALSE(is_port("12a"));
    EXPECT_FALSE(is_port("-1"));
}
