#include <poetryops/kube/watch_decoder.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace poetryops::kube {
namespace {

std::string sample_stream() {
    std::string s;
    s +=
        R"({"type":"ADDED","object":{"kind":"PoetryApp","metadata":{"name":"a","resourceVersion":"10"},"spec":{"x":"caf\u00e9 {\"}"}}})"
        "\n";
    s +=
        R"({"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"11"},"note":"line\nbreak escaped"}})"
        "\n";
    s += "\r\n";  // blank keep-alive line
    s += R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}})"
         "\r\n";
    s += R"({"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"13"}}})"
         "\n";
    s +=
        R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}})"
        "\n";
    return s;
}

std::vector<std::string> summarize(const std::vector<WatchEvent>& events) {
    std::vector<std::string> out;
    for (const auto& e : events)
        out.push_back(std::string(to_string(e.type)) + ":" + e.object.dump());
    return out;
}

TEST(WatchDecoder, DecodesAllEventTypesInOrder) {
    WatchDecoder dec;
    std::vector<WatchEvent> events;
    ASSERT_TRUE(dec.feed(sample_stream(), [&](WatchEvent&& e) { events.push_back(std::move(e)); }));
    ASSERT_EQ(events.size(), 5u);
    EXPECT_EQ(events[0].type, WatchEventType::added);
    EXPECT_EQ(events[0].object["spec"]["x"], "caf\xc3\xa9 {\"}");
    EXPECT_EQ(events[1].type, WatchEventType::modified);
    EXPECT_EQ(events[2].type, WatchEventType::bookmark);
    EXPECT_EQ(events[2].object["metadata"]["resourceVersion"], "12");
    EXPECT_EQ(events[3].type, WatchEventType::deleted);
    EXPECT_EQ(events[4].type, WatchEventType::error);
    EXPECT_EQ(events[4].object["code"], 410);
    EXPECT_EQ(dec.buffered(), 0u);
}

TEST(WatchDecoder, SameEventsWhereverTheStreamIsSplit) {
    const std::string stream = sample_stream();
    std::vector<WatchEvent> whole;
    {
        WatchDecoder dec;
        ASSERT_TRUE(dec.feed(stream, [&](WatchEvent&& e) { whole.push_back(std::move(e)); }));
    }
    auto expected = summarize(whole);
    // Every split into two pieces.
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        WatchDecoder dec;
        std::vector<WatchEvent> got;
        auto sink = [&](WatchEvent&& e) { got.push_back(std::move(e)); };
        ASSERT_TRUE(dec.feed(std::string_view(stream).substr(0, cut), sink)) << "cut at " << cut;
        ASSERT_TRUE(dec.feed(std::string_view(stream).substr(cut), sink)) << "cut at " << cut;
        ASSERT_TRUE(dec.finish(sink));
        ASSERT_EQ(summarize(got), expected) << "cut at " << cut;
    }
    // One byte at a time.
    WatchDecoder dec;
    std::vector<WatchEvent> got;
    for (char c : stream)
        ASSERT_TRUE(dec.feed(std::string_view(&c, 1),
                             [&](WatchEvent&& e) { got.push_back(std::move(e)); }));
    EXPECT_EQ(summarize(got), expected);
}

TEST(WatchDecoder, GarbageFailsAfterDeliveringEarlierEventsAndStaysFailed) {
    WatchDecoder dec;
    std::vector<WatchEvent> got;
    auto sink = [&](WatchEvent&& e) { got.push_back(std::move(e)); };
    std::string s = R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                    "\n"
                    "<html>502 Bad Gateway</html>\n";
    auto r = dec.feed(s, sink);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::decode);
    EXPECT_EQ(r.error().reason, "BadWatchEvent");
    EXPECT_EQ(got.size(), 1u);
    EXPECT_FALSE(dec.feed(R"({"type":"ADDED","object":{}})"
                          "\n",
                          sink));
    dec.reset();
    EXPECT_TRUE(dec.feed(R"({"type":"ADDED","object":{}})"
                         "\n",
                         sink));
    EXPECT_EQ(got.size(), 2u);
}

TEST(WatchDecoder, RejectsWellFormedJsonThatIsNotAnEvent) {
    for (std::string bad : {R"([1,2])", R"({"object":{}})", R"({"type":"SHRUG","object":{}})",
                            R"({"type":"ADDED"})", R"({"type":"ADDED","object":"x"})"}) {
        WatchDecoder dec;
        EXPECT_FALSE(dec.feed(bad + "\n", [](WatchEvent&&) {})) << bad;
    }
}

TEST(WatchDecoder, BoundsTheBufferForAnEventWithoutNewline) {
    WatchDecoder dec(1024);
    std::string chunk(600, 'x');
    EXPECT_TRUE(dec.feed(chunk, [](WatchEvent&&) {}));
    auto r = dec.feed(chunk, [](WatchEvent&&) {});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("exceeds 1024 bytes"), std::string::npos);
}

TEST(WatchDecoder, FinishReportsATruncatedEventAndAcceptsAMissingFinalNewline) {
    {
        WatchDecoder dec;
        ASSERT_TRUE(dec.feed(R"({"type":"ADDED","object":{"met)", [](WatchEvent&&) {}));
        auto r = dec.finish([](WatchEvent&&) {});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().reason, "TruncatedWatchEvent");
    }
    {
        WatchDecoder dec;
        int n = 0;
        ASSERT_TRUE(dec.feed(R"({"type":"ADDED","object":{}})", [&](WatchEvent&&) { ++n; }));
        EXPECT_EQ(n, 0);
        ASSERT_TRUE(dec.finish([&](WatchEvent&&) { ++n; }));
        EXPECT_EQ(n, 1);
    }
}

}  // namespace
}  // namespace poetryops::kube
