#include "compact_json.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace poetryops::runtime::detail {
namespace {

using nlohmann::json;

struct Unsupported {};  // a MessagePack type the fast path leaves to nlohmann (binary, ext)

/// Recursive-descent MessagePack reader producing nlohmann::json. Bounds-checked; throws
/// std::out_of_range on a truncated input, std::invalid_argument on a byte that is no MessagePack
/// type, Unsupported for bin/ext.
class FastReader {
public:
    FastReader(const std::uint8_t* p, const std::uint8_t* end) : p_(p), end_(end) {}

    json value() {
        std::uint8_t b = take(1)[0];
        if (b <= 0x7f) return json(static_cast<std::uint64_t>(b));
        if (b >= 0xe0) return json(static_cast<std::int64_t>(static_cast<std::int8_t>(b)));
        if ((b & 0xf0) == 0x80) return object(b & 0x0f);
        if ((b & 0xf0) == 0x90) return array(b & 0x0f);
        if ((b & 0xe0) == 0xa0) return string(b & 0x1f);
        switch (b) {
            case 0xc0: return json(nullptr);
            case 0xc2: return json(false);
            case 0xc3: return json(true);
            case 0xca: {
                auto bits = static_cast<std::uint32_t>(be(4));
                float f;
                std::memcpy(&f, &bits, sizeof f);
                return json(static_cast<double>(f));
            }
            case 0xcb: {
                std::uint64_t bits = be(8);
                double d;
                std::memcpy(&d, &bits, sizeof d);
                return json(d);
            }
            case 0xcc: return json(be(1));
            case 0xcd: return json(be(2));
            case 0xce: return json(be(4));
            case 0xcf: return json(be(8));
            case 0xd0: return json(static_cast<std::int64_t>(static_cast<std::int8_t>(be(1))));
            case 0xd1: return json(static_cast<std::int64_t>(static_cast<std::int16_t>(be(2))));
            case 0xd2: return json(static_cast<std::int64_t>(static_cast<std::int32_t>(be(4))));
            case 0xd3: return json(static_cast<std::int64_t>(be(8)));
            case 0xd9: return string(be(1));
            case 0xda: return string(be(2));
            case 0xdb: return string(be(4));
            case 0xdc: return array(be(2));
            case 0xdd: return array(be(4));
            case 0xde: return object(be(2));
            case 0xdf: return object(be(4));
            case 0xc4:
            case 0xc5:
            case 0xc6:  // bin
            case 0xc7:
            case 0xc8:
            case 0xc9:  // ext
            case 0xd4:
            case 0xd5:
            case 0xd6:
            case 0xd7:
            case 0xd8:  // fixext
                throw Unsupported{};
            default: throw std::invalid_argument("not a MessagePack type byte");
        }
    }

    bool at_end() const { return p_ == end_; }

private:
    const std::uint8_t* take(std::uint64_t n) {
        if (n > static_cast<std::uint64_t>(end_ - p_))
            throw std::out_of_range("truncated MessagePack");
        const std::uint8_t* at = p_;
        p_ += n;
        return at;
    }
    std::uint64_t be(int n) {
        const std::uint8_t* b = take(static_cast<std::uint64_t>(n));
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i) v = (v << 8) | b[i];
        return v;
    }
    json string(std::uint64_t n) {
        const std::uint8_t* b = take(n);
        return json(std::string(reinterpret_cast<const char*>(b), static_cast<std::size_t>(n)));
    }
    json array(std::uint64_t n) {
        if (n > static_cast<std::uint64_t>(end_ - p_))
            throw std::out_of_range("truncated MessagePack");  // ≥1 byte each
        json j(json::value_t::array);
        auto& a = j.get_ref<json::array_t&>();
        a.reserve(static_cast<std::size_t>(n));
        for (std::uint64_t i = 0; i < n; ++i) a.push_back(value());
        return j;
    }
    json object(std::uint64_t n) {
        json j(json::value_t::object);
        auto& m = j.get_ref<json::object_t&>();
        for (std::uint64_t i = 0; i < n; ++i) {
            json key = value();
            if (!key.is_string())
                throw std::invalid_argument("MessagePack map key is not a string");
            // nlohmann writes keys in order, so each goes at the end; a duplicate keeps the last
            // value, as parsing JSON text does.
            m.insert_or_assign(m.end(), std::move(key.get_ref<std::string&>()), value());
        }
        return j;
    }

    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

}  // namespace

std::string encode_compact(const nlohmann::json& object) {
    // grows to the largest object once; the returned copy is exact-size
    thread_local std::string scratch;
    scratch.clear();
    nlohmann::json::to_msgpack(object, scratch);
    return std::string(scratch);
}

std::optional<nlohmann::json> decode_compact(std::string_view bytes) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    try {
        FastReader r(p, p + bytes.size());
        json j = r.value();
        if (r.at_end()) return j;
        return std::nullopt;
    } catch (const Unsupported&) {
        // fall through to the complete decoder
    } catch (const std::exception&) {
        return std::nullopt;
    }
    try {
        return json::from_msgpack(p, p + bytes.size());
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace poetryops::runtime::detail
