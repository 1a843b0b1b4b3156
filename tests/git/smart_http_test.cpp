#include "git/detail/smart_http.hpp"

#include "git/detail/objects.hpp"

#include <gtest/gtest.h>

namespace poetryops::git::detail {
namespace {

std::string band(char b, std::string_view payload) {
    return pkt_line(std::string(1, b) + std::string(payload));
}

TEST(PktLine, FramesAndParsesIncludingSpecialPackets) {
    EXPECT_EQ(pkt_line("a\n"), "0006a\n");
    auto lines = parse_pkt_lines("0006a\n00000001000ahello\n0002");
    ASSERT_TRUE(lines) << lines.error().message;
    ASSERT_EQ(lines->size(), 5u);
    EXPECT_EQ((*lines)[0], "a\n");
    EXPECT_EQ((*lines)[1], "");
    EXPECT_EQ((*lines)[3], "hello\n");
}

TEST(PktLine, BadFramingIsADecodeErrorNotACrash) {
    for (std::string bad : {"00", "zzzz", "0003", "0010abc", "0006a\n00"}) {
        auto r = parse_pkt_lines(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().kind, Error::Kind::decode) << bad;
    }
}

TEST(PushResponse, AcceptedUpdateInsideSideBand) {
    std::string status = pkt_line("unpack ok\n") + pkt_line("ok refs/heads/main\n") + "0000";
    // The report may arrive split over several band-1 packets.
    std::string body = band('\1', status.substr(0, 7)) + band('\1', status.substr(7)) + "0000";
    auto r = parse_push_response(body, "refs/heads/main");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->ok);
    EXPECT_TRUE(r->remote_lines.empty());
}

TEST(PushResponse, HookRefusalCarriesTheRemoteLines) {
    std::string status = pkt_line("unpack ok\n") +
                         pkt_line("ng refs/heads/main pre-receive hook declined\n") + "0000";
    std::string body = band('\2', "policy: images must be signed\n") + band('\1', status) + "0000";
    auto r = parse_push_response(body, "refs/heads/main");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->reason, "pre-receive hook declined");
    ASSERT_EQ(r->remote_lines.size(), 1u);
    EXPECT_EQ(r->remote_lines[0], "policy: images must be signed");
    EXPECT_FALSE(is_stale_ref_reason(r->reason));
}

TEST(PushResponse, LostCompareAndSwapIsAStaleRef) {
    std::string body =
        pkt_line("unpack ok\n") + pkt_line("ng refs/heads/main failed to update ref\n") + "0000";
    auto r = parse_push_response(body, "refs/heads/main");  // without side-band
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->ok);
    EXPECT_TRUE(is_stale_ref_reason(r->reason));
    EXPECT_TRUE(
        is_stale_ref_reason("cannot lock ref 'refs/heads/main': is at 1234 but expected 5678"));
}

TEST(PushResponse, UnpackFailureIsNotOkEvenIfTheRefLineSaysOk) {
    std::string body =
        pkt_line("unpack index-pack abnormal exit\n") + pkt_line("ok refs/heads/main\n") + "0000";
    auto r = parse_push_response(body, "refs/heads/main");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_FALSE(r->ok);
}

TEST(PushResponse, AnswerWithoutOurRefIsAnError) {
    auto r = parse_push_response(pkt_line("unpack ok\n") + "0000", "refs/heads/main");
    ASSERT_FALSE(r);
    auto fatal =
        parse_push_response(band('\3', "fatal: out of space\n") + "0000", "refs/heads/main");
    ASSERT_TRUE(fatal) << fatal.error().message;
    EXPECT_FALSE(fatal->ok);
    EXPECT_EQ(fatal->reason, "fatal: out of space");
}

TEST(CommitObject, SerialisesLikeGitAndStripsBadIdentCharacters) {
    std::string body = serialize_commit(std::string(40, 'a'), std::string(40, 'b'), "Po<e>try\nops",
                                        "<bot@x>", 1700000000, "subject\n\nbody");
    EXPECT_EQ(
        body,
        "tree " + std::string(40, 'a') + "\nparent " + std::string(40, 'b') +
            "\nauthor Poetryops <bot@x> 1700000000 +0000\ncommitter Poetryops <bot@x> 1700000000 "
            "+0000\n\nsubject\n\nbody\n");
}

TEST(ObjectCache, StartsOverWhenTheBudgetIsExceeded) {
    ObjectCache cache(1000);
    cache.put("a", std::string(100, 'x'));
    cache.put_tree_of("c1", "t1");
    ASSERT_NE(cache.get("a"), nullptr);
    cache.put("b", std::string(200, 'y'));
    cache.put("c", std::string(200, 'y'));
    cache.put("d", std::string(200, 'y'));
    cache.put("e", std::string(200, 'y'));  // over budget: everything before is dropped
    EXPECT_EQ(cache.get("a"), nullptr);
    EXPECT_FALSE(cache.tree_of("c1"));
    EXPECT_NE(cache.get("e"), nullptr);
    EXPECT_LE(cache.bytes(), 1000u);
}

}  // namespace
}  // namespace poetryops::git::detail

namespace poetryops::git::detail {
namespace {

TEST(SmartHttpApplies, OnlyPlainHttpRemotesWithoutProxyOrUserInTheUrl) {
    Remote r;
    r.url = "https://git.example.com/org/gitops.git";
    EXPECT_TRUE(SmartHttp::applies(r));
    r.url = "http://127.0.0.1:8080/git/gitops.git";
    EXPECT_TRUE(SmartHttp::applies(r));
    r.url = "https://bot@git.example.com/org/gitops.git";
    EXPECT_FALSE(SmartHttp::applies(r));
    r.url = "ssh://git@git.example.com/org/gitops.git";
    EXPECT_FALSE(SmartHttp::applies(r));
    r.url = "https://git.example.com/org/gitops.git";
    ::setenv("HTTPS_PROXY", "http://proxy.example.com:3128", 1);
    EXPECT_FALSE(SmartHttp::applies(r));  // git knows proxies, the in-process client does not
    ::unsetenv("HTTPS_PROXY");
    EXPECT_TRUE(SmartHttp::applies(r));
}

}  // namespace
}  // namespace poetryops::git::detail
