#include <poetryops/util/clock.hpp>
#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <mutex>

namespace poetryops::log {

namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::text};
std::mutex g_sink_mu;
std::function<void(std::string_view)> g_sink;  // empty: stderr

const char* level_name(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
        case Level::off: return "off";
    }
    return "info";
}

constexpr std::string_view kRedacted = "[REDACTED]";

bool ends_with_ci(std::string_view s, std::string_view suffix) {
    if (s.size() < suffix.size()) return false;
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i])
            return false;
    }
    return true;
}

bool iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

/// Keys whose values are secrets whatever they look like.
bool sensitive_key(std::string_view key) {
    static constexpr std::string_view suffixes[] = {
        "password",   "passwd",      "secret",     "token",      "apikey",
        "api_key",    "api-key",     "access_key", "secret_key", "private_key",
        "credential", "credentials", "key-data",   "key_data",   "passphrase"};
    for (auto s : suffixes) {
        if (ends_with_ci(key, s)) return true;
    }
    return iequal(key, "auth") || iequal(key, "authorization") || iequal(key, "pwd") ||
           iequal(key, "proxy-authorization");
}

bool token_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' ||
           c == '/' || c == '=';
}

bool key_char(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '_' || c == '-' || c == '.';
}

/// PEM private key blocks.
std::string redact_pem(std::string_view in) {
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        std::size_t b = in.find("-----BEGIN ", pos);
        if (b == std::string_view::npos) break;
        std::size_t hdr_end = in.find("-----", b + 11);
        if (hdr_end == std::string_view::npos) break;
        std::string_view label = in.substr(b + 11, hdr_end - (b + 11));
        if (!ends_with_ci(label, "private key")) {
            out.append(in.substr(pos, hdr_end + 5 - pos));
            pos = hdr_end + 5;
            continue;
        }
        out.append(in.substr(pos, b - pos));
        out += "[REDACTED PRIVATE KEY]";
        std::size_t e = in.find("-----END ", hdr_end + 5);
        if (e == std::string_view::npos) return out;  // unterminated: drop the rest
        std::size_t e_end = in.find("-----", e + 9);
        pos = e_end == std::string_view::npos ? in.size() : e_end + 5;
    }
    out.append(in.substr(pos));
    return out;
}

/// user:password@ in URLs.
std::string redact_userinfo(std::string_view in) {
    std::string out;
    std::size_t pos = 0;
    for (;;) {
        std::size_t p = in.find("://", pos);
        if (p == std::string_view::npos) break;
        std::size_t start = p + 3;
        std::size_t i = start;
        std::size_t at = std::string_view::npos;
        while (i < in.size()) {
            char c = in[i];
            if (c == '/' || c == '?' || c == '#' || std::isspace(static_cast<unsigned char>(c)) ||
                c == '"' || c == '\'')
                break;
            if (c == '@') at = i;
            ++i;
        }
        out.append(in.substr(pos, start - pos));
        if (at != std::string_view::npos && at > start) {
            out += kRedacted;
            pos = at;  // keep '@host...'
        } else {
            pos = start;
        }
    }
    out.append(in.substr(pos));
    return out;
}

/// "Bearer xyz", "Basic xyz" (any case).
std::string redact_schemes(std::string_view in) {
    std::string out;
    std::size_t i = 0;
    while (i < in.size()) {
        bool matched = false;
        for (std::string_view scheme : {std::string_view("bearer"), std::string_view("basic")}) {
            if (i + scheme.size() < in.size() && iequal(in.substr(i, scheme.size()), scheme) &&
                (i == 0 || !key_char(in[i - 1])) && in[i + scheme.size()] == ' ') {
                std::size_t v = i + scheme.size();
                while (v < in.size() && in[v] == ' ') ++v;
                std::size_t e = v;
                while (e < in.size() && token_char(in[e])) ++e;
                // Real credentials are long; "basic auth" in prose is not a credential.
                if (e - v >= 8) {
                    out.append(in.substr(i, v - i));
                    out += kRedacted;
                    i = e;
                    matched = true;
                }
                break;
            }
        }
        if (!matched) out += in[i++];
    }
    return out;
}

/// key=value, key: value, "key": "value" for sensitive keys.
std::string redact_pairs(std::string_view in) {
    std::string out;
    std::size_t i = 0;
    while (i < in.size()) {
        if (!key_char(in[i]) || (i > 0 && key_char(in[i - 1]))) {
            out += in[i++];
            continue;
        }
        std::size_t ks = i;
        while (i < in.size() && key_char(in[i])) ++i;
        std::string_view key = in.substr(ks, i - ks);
        out.append(key);
        if (!sensitive_key(key)) continue;
        std::size_t j = i;
        if (j < in.size() && (in[j] == '"' || in[j] == '\'')) ++j;
        while (j < in.size() && in[j] == ' ') ++j;
        if (j >= in.size() || (in[j] != '=' && in[j] != ':')) continue;
        ++j;
        while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
        if (j >= in.size()) continue;
        bool whole_line = iequal(key, "authorization") || iequal(key, "proxy-authorization");
        std::size_t vs = j, ve;
        if (in[j] == '"' || in[j] == '\'') {
            char q = in[j];
            vs = j + 1;
            ve = vs;
            while (ve < in.size() && in[ve] != q) {
                if (in[ve] == '\\' && ve + 1 < in.size()) ++ve;
                ++ve;
            }
        } else if (whole_line) {
            ve = vs;
            while (ve < in.size() && in[ve] != '\n' && in[ve] != '\r') ++ve;
        } else {
            ve = vs;
            while (ve < in.size() && !std::isspace(static_cast<unsigned char>(in[ve])) &&
                   in[ve] != ',' && in[ve] != ';' && in[ve] != '&' && in[ve] != '"' &&
                   in[ve] != '\'' && in[ve] != '}' && in[ve] != ')' && in[ve] != ']')
                ++ve;
        }
        if (ve == vs) continue;
        out.append(in.substr(i, vs - i));
        out += kRedacted;
        i = ve;
    }
    return out;
}

/// JWTs and well-known token formats, anywhere.
std::string redact_tokens(std::string_view in) {
    static constexpr std::string_view prefixes[] = {
        "ghp_",  "gho_",  "ghs_",  "ghu_",     "ghr_", "github_pat_", "glpat-",
        "xoxb-", "xoxp-", "xoxa-", "sk_live_", "AKIA", "ASIA",        "eyJ"};
    std::string out;
    std::size_t i = 0;
    while (i < in.size()) {
        bool at_word_start = i == 0 || !token_char(in[i - 1]);
        bool done = false;
        if (at_word_start) {
            for (auto p : prefixes) {
                if (in.compare(i, p.size(), p) != 0) continue;
                std::size_t e = i + p.size();
                while (e < in.size() && (token_char(in[e]))) ++e;
                std::string_view tok = in.substr(i, e - i);
                bool looks_secret = false;
                if (p == "eyJ") {
                    looks_secret = std::count(tok.begin(), tok.end(), '.') >= 2 && tok.size() >= 20;
                } else if (p == "AKIA" || p == "ASIA") {
                    looks_secret = tok.size() == 20;
                } else {
                    looks_secret = tok.size() >= p.size() + 8;
                }
                if (looks_secret) {
                    out += kRedacted;
                    i = e;
                    done = true;
                }
                break;
            }
        }
        if (!done) out += in[i++];
    }
    return out;
}

void emit(std::string_view line) {
    std::lock_guard lock(g_sink_mu);
    if (g_sink) {
        g_sink(line);
        return;
    }
    std::string with_nl(line);
    with_nl += '\n';
    std::fwrite(with_nl.data(), 1, with_nl.size(), stderr);
    std::fflush(stderr);
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v) {
        if (std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '=') return true;
    }
    return false;
}

}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
void set_format(Format format) { g_format = format; }

void set_sink(std::function<void(std::string_view)> sink) {
    std::lock_guard lock(g_sink_mu);
    g_sink = std::move(sink);
}

bool parse_level(std::string_view s, Level& out) {
    for (Level l : {Level::debug, Level::info, Level::warn, Level::error, Level::off}) {
        if (s == level_name(l)) {
            out = l;
            return true;
        }
    }
    return false;
}

std::string redact(std::string_view text) {
    std::string s = redact_pem(text);
    s = redact_userinfo(s);
    s = redact_pairs(s);
    s = redact_schemes(s);
    return redact_tokens(s);
}

void write(Level lvl, std::string_view msg, const Fields& fields) {
    if (lvl < g_level.load() || lvl == Level::off) return;
    // RFC 3339 with milliseconds ("…T03:54:00.123Z"): a promotion takes tens of ms, whole seconds
    // hide its steps.
    auto now = SystemClock::instance().now();
    std::string ts = format_rfc3339(now);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    if (!ts.empty() && ts.back() == 'Z') {
        char frac[6];
        std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
        ts.insert(ts.size() - 1, frac);
    }
    auto value_of = [](const Field& f) {
        return sensitive_key(f.first) ? std::string(kRedacted) : redact(f.second);
    };
    if (g_format.load() == Format::json) {
        nlohmann::json j;
        j["ts"] = ts;
        j["level"] = level_name(lvl);
        j["msg"] = redact(msg);
        for (const auto& f : fields) j[f.first] = value_of(f);
        emit(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        return;
    }
    std::string line = ts;
    line += ' ';
    std::string lv = level_name(lvl);
    for (auto& c : lv) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    line += lv;
    line += ' ';
    line += redact(msg);
    for (const auto& f : fields) {
        std::string v = value_of(f);
        line += ' ';
        line += f.first;
        line += '=';
        if (needs_quotes(v)) {
            line +=
                nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        } else {
            line += v;
        }
    }
    emit(line);
}

}  // namespace poetryops::log
