// The informer cache's compact codec: every JSON value round-trips exactly, through the fast
// decoder and through the fallback for MessagePack types it leaves to nlohmann; broken input is
// nullopt, never an exception.
#include "runtime/detail/compact_json.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace poetryops::runtime::detail {
namespace {

using nlohmann::json;

json round_trip(const json& j) {
    auto bytes = encode_compact(j);
    auto back = decode_compact(bytes);
    EXPECT_TRUE(back) << j.dump();
    return back ? *back : json("<failed>");
}

TEST(CompactJson, EveryScalarKindAndWidthRoundTrips) {
    std::vector<json> values{nullptr,
                             true,
                             false,
                             0,
                             1,
                             127,
                             128,
                             255,
                             256,
                             65535,
                             65536,
                             4294967295ULL,
                             4294967296ULL,
                             std::numeric_limits<std::uint64_t>::max(),
                             -1,
                             -32,
                             -33,
                             -128,
                             -129,
                             -32768,
                             -32769,
                             -2147483648LL,
                             -2147483649LL,
                             std::numeric_limits<std::int64_t>::min(),
                             0.5,
                             -2.25,
                             0.1,
                             1e300,
                             std::numeric_limits<double>::lowest(),
                             "",
                             "größe ✓",
                             std::string(31, 'a'),
                             std::string(32, 'b'),
                             std::string(255, 'c'),
                             std::string(256, 'd'),
                             std::string(70000, 'e')};
    for (const auto& v : values) {
        json back = round_trip(v);
        EXPECT_EQ(back, v) << v.dump().substr(0, 80);
        if (v.is_number_float()) {
            EXPECT_EQ(back.get<double>(), v.get<double>()) << "doubles keep every bit";
        }
    }
}

TEST(CompactJson, ContainersOfEverySizeClassRoundTrip) {
    json big_object = json::object(), big_array = json::array();
    for (int i = 0; i < 70000; ++i) {
        big_object["k" + std::to_string(i)] = i;
        big_array.push_back(i % 3 == 0 ? json(i) : json("s" + std::to_string(i)));
    }
    json nested = {
        {"metadata", {{"name", "a"}, {"labels", json::object()}, {"managedFields", json::array()}}},
        {"spec", {{"list", json::array({1, "two", nullptr, json::array({json::object()})})}}}};
    json sixteen = json::object();
    for (int i = 0; i < 16; ++i) sixteen[std::string(1, static_cast<char>('a' + i))] = i;
    for (const json& v : {json::object(), json::array(), sixteen, json(json::array({1, 2, 3})),
                          nested, big_object, big_array}) {
        EXPECT_EQ(round_trip(v), v) << v.dump().substr(0, 80);
    }
}

TEST(CompactJson, BinaryValuesFallBackToTheCompleteDecoder) {
    json j = {{"blob", json::binary({1, 2, 3})}, {"typed", json::binary({4, 5}, 7)}};
    EXPECT_EQ(round_trip(j), j);
}

TEST(CompactJson, BrokenInputIsNulloptNotAnException) {
    auto bytes = encode_compact(json{{"name", "app"}, {"list", {1, 2, 3}}});
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        EXPECT_FALSE(decode_compact(std::string_view(bytes).substr(0, cut)))
            << "truncated at " << cut;
    }
    EXPECT_FALSE(decode_compact(bytes + "x")) << "trailing bytes";
    EXPECT_FALSE(decode_compact("\xc1")) << "0xc1 is never used";
    EXPECT_FALSE(decode_compact("\x81\x01\x02")) << "map key that is not a string";
    EXPECT_FALSE(decode_compact("\xdd\xff\xff\xff\xff")) << "array claiming 4G elements";
}

}  // namespace
}  // namespace poetryops::runtime::detail
