// PEP 440 versions: a hand-written parser for the spec's grammar including its normalisation rules
// (https://peps.python.org/pep-0440/#normalization), the spec's total order, and the OCI tag
// mapping.
#include <poetryops/python/version.hpp>

#include <poetryops/oci/grammar.hpp>

#include <algorithm>
#include <cctype>
#include <limits>

namespace poetryops::python {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_sep(char c) { return c == '.' || c == '-' || c == '_'; }
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

/// A cursor over the version text; every method leaves `pos` unchanged when it does not match.
class Cursor {
public:
    explicit Cursor(std::string_view s) : s_(s) {}
    bool done() const { return pos_ >= s_.size(); }
    char peek(std::size_t ahead = 0) const {
        return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
    }
    std::size_t pos() const { return pos_; }
    void reset(std::size_t p) { pos_ = p; }
    void skip() { ++pos_; }
    bool skip_sep() {
        if (is_sep(peek())) {
            ++pos_;
            return true;
        }
        return false;
    }
    /// Reads [0-9]+; false when none or when it overflows (overflow sets `overflow`).
    bool number(long long& out) {
        std::size_t start = pos_;
        long long v = 0;
        while (is_digit(peek())) {
            int d = peek() - '0';
            if (v > (std::numeric_limits<long long>::max() - d) / 10) {
                overflow = true;
                return false;
            }
            v = v * 10 + d;
            ++pos_;
        }
        if (pos_ == start) return false;
        out = v;
        return true;
    }
    /// Reads [a-zA-Z]+ lower-cased.
    std::string word() {
        std::string w;
        while (is_alpha(peek())) w += lower(s_[pos_++]);
        return w;
    }
    bool overflow = false;

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

std::optional<char> pre_letter(const std::string& w) {
    if (w == "a" || w == "alpha") return 'a';
    if (w == "b" || w == "beta") return 'b';
    if (w == "rc" || w == "c" || w == "pre" || w == "preview") return 'c';
    return std::nullopt;
}

bool is_post_word(const std::string& w) { return w == "post" || w == "rev" || w == "r"; }

Unexpected bad(std::string_view text, std::string_view why) {
    return fail(Error::Kind::invalid,
                "invalid PEP 440 version \"" + std::string(text) + "\": " + std::string(why),
                "InvalidVersion");
}

std::string strip_zeros(const std::string& seg) {
    if (seg.empty() || !std::all_of(seg.begin(), seg.end(), is_digit)) return seg;
    std::size_t i = seg.find_first_not_of('0');
    return i == std::string::npos ? "0" : seg.substr(i);
}

}  // namespace

Result<Version> parse_version(std::string_view text) {
    std::string_view s = text;
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    if (s.empty()) return bad(text, "empty");

    Version v;
    Cursor c(s);
    if (c.peek() == 'v' || c.peek() == 'V') c.skip();

    // Epoch "N!" or the first release component.
    long long n = 0;
    if (!c.number(n))
        return bad(text, c.overflow ? "number too large" : "must start with a release number");
    if (c.peek() == '!') {
        c.skip();
        if (n > std::numeric_limits<int>::max()) return bad(text, "epoch too large");
        v.epoch = static_cast<int>(n);
        if (!c.number(n))
            return bad(text,
                       c.overflow ? "number too large" : "expected a release number after '!'");
    }
    v.release.push_back(n);
    while (c.peek() == '.' && is_digit(c.peek(1))) {
        c.skip();
        if (!c.number(n)) return bad(text, "number too large");
        v.release.push_back(n);
    }

    // Pre-release: [-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?N?
    {
        std::size_t save = c.pos();
        c.skip_sep();
        std::string w = c.word();
        if (auto letter = pre_letter(w)) {
            c.skip_sep();  // the spec's regex accepts a trailing separator without a number
            long long num = 0;
            if (!c.number(num) && c.overflow) return bad(text, "number too large");
            v.pre = std::make_pair(*letter, num);
        } else {
            c.reset(save);
        }
    }

    // Post-release: -N | [-_.]?(post|rev|r)[-_.]?N?
    {
        std::size_t save = c.pos();
        long long num = 0;
        if (c.peek() == '-' && is_digit(c.peek(1))) {
            c.skip();
            if (!c.number(num)) return bad(text, "number too large");
            v.post = num;
        } else {
            c.skip_sep();
            std::string w = c.word();
            if (is_post_word(w)) {
                c.skip_sep();
                if (!c.number(num) && c.overflow) return bad(text, "number too large");
                v.post = num;
            } else {
                c.reset(save);
            }
        }
    }

    // Development release: [-_.]?dev[-_.]?N?
    {
        std::size_t save = c.pos();
        c.skip_sep();
        std::string w = c.word();
        if (w == "dev") {
            c.skip_sep();  // the spec's regex accepts a trailing separator without a number
            long long num = 0;
            if (!c.number(num) && c.overflow) return bad(text, "number too large");
            v.dev = num;
        } else {
            c.reset(save);
        }
    }

    // Local version: +[a-z0-9]+([-_.][a-z0-9]+)*
    if (c.peek() == '+') {
        c.skip();
        std::string seg;
        while (!c.done()) {
            char ch = c.peek();
            if (is_sep(ch)) {
                if (seg.empty()) return bad(text, "empty local version segment");
                v.local.push_back(strip_zeros(seg));
                seg.clear();
            } else if (is_digit(ch) || is_alpha(ch)) {
                seg += lower(ch);
            } else {
                return bad(text,
                           std::string("unexpected character '") + ch + "' in the local version");
            }
            c.skip();
        }
        if (seg.empty()) return bad(text, "empty local version segment");
        v.local.push_back(strip_zeros(seg));
    }

    if (!c.done()) {
        return bad(text, "unexpected text \"" + std::string(s.substr(c.pos())) + "\"");
    }
    return v;
}

std::string Version::str() const {
    std::string out;
    if (epoch != 0) out += std::to_string(epoch) + "!";
    for (std::size_t i = 0; i < release.size(); ++i) {
        if (i) out += '.';
        out += std::to_string(release[i]);
    }
    if (pre) {
        out += pre->first == 'c' ? "rc" : std::string(1, pre->first);
        out += std::to_string(pre->second);
    }
    if (post) out += ".post" + std::to_string(*post);
    if (dev) out += ".dev" + std::to_string(*dev);
    if (!local.empty()) {
        out += '+';
        for (std::size_t i = 0; i < local.size(); ++i) {
            if (i) out += '.';
            out += local[i];
        }
    }
    return out;
}

namespace {

// Sort keys as in the spec's reference implementation (packaging's _cmpkey): sentinel "below
// everything" and "above everything" values encoded as -inf/+inf flags next to the payload.
struct Bound {
    int rank;     ///< -1: negative infinity, 0: value, +1: positive infinity
    char letter;  ///< pre-release letter, compared before the number
    long long value;
    auto operator<=>(const Bound&) const = default;
};

Bound pre_key(const Version& v) {
    // A dev release of a final version sorts before every pre-release of it: 1.0.dev0 < 1.0a1.
    if (!v.pre && !v.post && v.dev) return {-1, 0, 0};
    if (!v.pre) return {1, 0, 0};
    return {0, v.pre->first, v.pre->second};  // 'a' < 'b' < 'c' (rc)
}
Bound post_key(const Version& v) { return v.post ? Bound{0, 0, *v.post} : Bound{-1, 0, 0}; }
Bound dev_key(const Version& v) { return v.dev ? Bound{0, 0, *v.dev} : Bound{1, 0, 0}; }

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

// Local segments: numeric segments compare numerically and sort after alphanumeric ones;
// alphanumeric segments compare lexicographically; a version with more segments sorts after one
// that is its prefix.
std::strong_ordering compare_local_segment(const std::string& a, const std::string& b) {
    bool an = all_digits(a), bn = all_digits(b);
    if (an && bn) {
        if (a.size() != b.size()) return a.size() <=> b.size();  // both have no leading zeros
        return a.compare(b) <=> 0;
    }
    if (an != bn) return an ? std::strong_ordering::greater : std::strong_ordering::less;
    return a.compare(b) <=> 0;
}

}  // namespace

std::strong_ordering compare(const Version& a, const Version& b) {
    if (auto c = a.epoch <=> b.epoch; c != 0) return c;
    // Trailing zeros do not count: 1.0 == 1.0.0.
    auto trimmed = [](const std::vector<long long>& r) {
        std::size_t n = r.size();
        while (n > 0 && r[n - 1] == 0) --n;
        return n;
    };
    std::size_t na = trimmed(a.release), nb = trimmed(b.release);
    for (std::size_t i = 0; i < std::min(na, nb); ++i) {
        if (auto c = a.release[i] <=> b.release[i]; c != 0) return c;
    }
    if (auto c = na <=> nb; c != 0) return c;
    if (auto c = pre_key(a) <=> pre_key(b); c != 0) return c;
    if (auto c = post_key(a) <=> post_key(b); c != 0) return c;
    if (auto c = dev_key(a) <=> dev_key(b); c != 0) return c;
    // No local part sorts before any local part.
    if (a.local.empty() != b.local.empty()) {
        return a.local.empty() ? std::strong_ordering::less : std::strong_ordering::greater;
    }
    for (std::size_t i = 0; i < std::min(a.local.size(), b.local.size()); ++i) {
        if (auto c = compare_local_segment(a.local[i], b.local[i]); c != 0) return c;
    }
    return a.local.size() <=> b.local.size();
}

std::string oci_tag(const Version& v) { return oci::sanitize_tag(v.str()); }

}  // namespace poetryops::python
