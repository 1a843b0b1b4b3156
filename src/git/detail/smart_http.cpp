#include "git/detail/smart_http.hpp"

#include "git/detail/objects.hpp"

#include <poetryops/http/client.hpp>
#include <poetryops/util/strings.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace poetryops::git::detail {

namespace {

constexpr std::string_view kAgent = "agent=poetryops/0.1";

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// Splits text from side-band 2/3 into lines the way `git push` shows them (CR or LF ends a line).
void append_lines(std::string_view text, std::vector<std::string>& out) {
    std::string cur;
    for (char c : text) {
        if (c == '\n' || c == '\r') {
            if (!str::trim(cur).empty()) out.push_back(std::string(str::trim(cur)));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!str::trim(cur).empty()) out.push_back(std::string(str::trim(cur)));
}

std::string strip_lf(std::string s) {
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

}  // namespace

std::string pkt_line(std::string_view payload) {
    char head[5];
    std::snprintf(head, sizeof head, "%04x", static_cast<unsigned>(payload.size() + 4));
    return std::string(head, 4) + std::string(payload);
}

Result<std::vector<std::string>> parse_pkt_lines(std::string_view data) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < data.size()) {
        if (data.size() - pos < 4) return fail(Error::Kind::decode, "truncated pkt-line length");
        int len = 0;
        for (int i = 0; i < 4; ++i) {
            int v = hex_value(data[pos + i]);
            if (v < 0) return fail(Error::Kind::decode, "bad pkt-line length");
            len = len * 16 + v;
        }
        if (len < 4) {  // flush, delim, response-end
            if (len == 3) return fail(Error::Kind::decode, "bad pkt-line length 3");
            out.emplace_back();
            pos += 4;
            continue;
        }
        if (data.size() - pos < static_cast<std::size_t>(len))
            return fail(Error::Kind::decode, "truncated pkt-line");
        out.emplace_back(data.substr(pos + 4, static_cast<std::size_t>(len) - 4));
        pos += static_cast<std::size_t>(len);
    }
    return out;
}

Result<PushReport> parse_push_response(std::string_view body, const std::string& ref) {
    POETRYOPS_TRY(auto packets, parse_pkt_lines(body));
    PushReport report;
    std::string status_data;  // report-status, possibly split across band-1 packets
    bool sideband =
        !packets.empty() && !packets.front().empty() &&
        (packets.front()[0] == '\1' || packets.front()[0] == '\2' || packets.front()[0] == '\3');
    if (sideband) {
        for (const auto& p : packets) {
            if (p.empty()) continue;
            std::string_view payload(p.data() + 1, p.size() - 1);
            switch (p[0]) {
                case '\1': status_data.append(payload); break;
                case '\2': append_lines(payload, report.remote_lines); break;
                case '\3':
                    append_lines(payload, report.remote_lines);
                    report.reason =
                        report.remote_lines.empty() ? "remote error" : report.remote_lines.back();
                    return report;
                default:
                    return fail(Error::Kind::decode,
                                "unknown side-band " + std::to_string(int(p[0])));
            }
        }
        POETRYOPS_TRY(packets, parse_pkt_lines(status_data));
    }
    bool unpack_ok = false, ref_seen = false;
    for (const auto& raw : packets) {
        if (raw.empty()) continue;
        std::string line = strip_lf(raw);
        if (line.rfind("ERR ", 0) == 0) {
            report.reason = line.substr(4);
            return report;
        }
        if (line.rfind("unpack ", 0) == 0) {
            unpack_ok = line == "unpack ok";
            if (!unpack_ok) report.reason = "unpack failed: " + line.substr(7);
        } else if (line == "ok " + ref) {
            ref_seen = true;
            report.ok = unpack_ok;
        } else if (line.rfind("ng " + ref + " ", 0) == 0) {
            ref_seen = true;
            report.ok = false;
            report.reason = line.substr(4 + ref.size());
        }
    }
    if (!ref_seen && report.reason.empty()) {
        return fail(Error::Kind::decode, "receive-pack reported nothing for " + ref);
    }
    return report;
}

bool is_stale_ref_reason(std::string_view reason) {
    // receive-pack's words when the ref is not at the old value we sent (compare-and-swap lost), or
    // when our parent is not an ancestor of what is there now.
    for (std::string_view needle :
         {"stale info", "failed to lock", "cannot lock ref", "fetch first", "non-fast-forward",
          "failed to update ref", "incorrect old value", "reference already exists",
          "missing necessary objects"}) {
        if (reason.find(needle) != std::string_view::npos) return true;
    }
    return false;
}

bool SmartHttp::applies(const Remote& remote) {
    std::string_view url = remote.url;
    bool http = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    if (!http) return false;
    // git honours proxy variables (they pass through to it); the in-process client does not speak
    // to proxies, so with one configured every request goes through git.
    for (const char* var :
         {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
        const char* v = std::getenv(var);
        if (v != nullptr && *v != '\0') return false;
    }
    // A user name in the URL authority: leave the credential handling to git.
    auto authority_end = url.find('/', url.find("//") + 2);
    return url.substr(0, authority_end).find('@') == std::string_view::npos;
}

Result<std::unique_ptr<SmartHttp>> SmartHttp::create(const Remote& remote) {
    http::ClientOptions o;
    o.tls.ca_file = remote.ca_file.string();
    o.connect_timeout =
        std::chrono::duration_cast<std::chrono::milliseconds>(remote.connect_timeout);
    o.handshake_timeout = o.connect_timeout;
    o.write_timeout = remote.timeout;
    o.read_timeout = remote.timeout;
    o.max_idle_per_host = 1;
    o.user_agent = "git/2 (poetryops/0.1)";
    POETRYOPS_TRY(auto client, http::Client::create(o));
    return std::unique_ptr<SmartHttp>(new SmartHttp(remote, std::move(client)));
}

SmartHttp::SmartHttp(Remote remote, std::unique_ptr<http::Client> client)
    : remote_(std::move(remote)), client_(std::move(client)) {
    base_url_ = remote_.url;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    if (!remote_.password.empty()) {
        std::string user = remote_.username.empty() ? "x-access-token" : remote_.username;
        authorization_ = "Basic " + str::base64_encode(user + ":" + remote_.password);
    }
}

SmartHttp::~SmartHttp() = default;

Result<std::string> SmartHttp::post(const std::string& service, const std::string& body,
                                    bool protocol_v2) {
    if (std::chrono::steady_clock::now() < paused_until_) {
        return fail(Error::Kind::transport, "in-process transport paused after a network error");
    }
    http::Request req;
    req.method = "POST";
    req.url = base_url_ + "/" + service;
    req.headers.set("Content-Type", "application/x-" + service + "-request");
    req.headers.set("Accept", "application/x-" + service + "-result");
    if (protocol_v2) req.headers.set("Git-Protocol", "version=2");
    // upload-pack only reads: a pooled connection the server closed while idle (lighttpd after
    // 5 s) is retried on a fresh one instead of pausing the in-process path for a minute.
    req.safe_to_retry = service == "git-upload-pack";
    if (!authorization_.empty()) req.headers.set("Authorization", authorization_);
    req.body = body;
    auto answered = client_->request(req);
    if (!answered) {
        // Unreachable or too slow: git would be too, and its error is the one to show. Stop trying
        // for a while so that every operation does not pay a connect timeout before git runs.
        if (answered.error().kind == Error::Kind::transport ||
            answered.error().kind == Error::Kind::timeout) {
            paused_until_ = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        }
        return fail(std::move(answered).error());
    }
    http::Response resp = std::move(answered).value();
    if (resp.status != 200) {
        return fail(resp.status == 401 || resp.status == 403 ? Error::Kind::unauthorized
                                                             : Error::Kind::http,
                    service + " answered HTTP " + std::to_string(resp.status));
    }
    auto type = resp.headers.get_or("Content-Type");
    if (type.rfind("application/x-" + service + "-result", 0) != 0) {
        return fail(Error::Kind::decode, service + " answered with content type '" + type + "'");
    }
    return std::move(resp.body);
}

Result<std::optional<std::string>> SmartHttp::branch_tip(const std::string& branch) {
    const std::string ref = "refs/heads/" + branch;
    POETRYOPS_TRY(auto tips, ref_tips({ref}));
    auto it = tips.find(ref);
    if (it == tips.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
}

Result<std::map<std::string, std::string>> SmartHttp::ref_tips(
    const std::vector<std::string>& refs) {
    if (v2_refused_)
        return fail(Error::Kind::invalid, "server does not speak protocol v2 ls-refs",
                    "Unsupported");
    std::string body = pkt_line("command=ls-refs\n") + pkt_line(std::string(kAgent) + "\n") +
                       "0001" + pkt_line("peel\n");
    for (const auto& ref : refs) body += pkt_line("ref-prefix " + ref + "\n");
    body += "0000";
    POETRYOPS_TRY(std::string out, post("git-upload-pack", body, true));
    auto lines = parse_pkt_lines(out);
    if (!lines) {
        v2_refused_ = true;
        return fail(std::move(lines).error());
    }
    std::map<std::string, std::string> tips;
    bool flushed = false;
    for (const auto& raw : *lines) {
        if (raw.empty()) {
            flushed = true;
            break;
        }
        std::string line = strip_lf(raw);
        auto sp = line.find(' ');
        if (sp == std::string::npos || !is_object_id(line.substr(0, sp))) {
            v2_refused_ = true;  // an ERR line or a v0 answer: this server does not do ls-refs
            return fail(Error::Kind::invalid, "unexpected ls-refs answer", "Unsupported");
        }
        // "OID NAME[ ATTR]...": ref-prefix is a prefix match ("main" also lists "main-2"), so only
        // the exact names asked for are kept; "peeled:OID" follows an annotated tag.
        std::string oid = line.substr(0, sp);
        auto words = str::split(line.substr(sp + 1), ' ');
        const std::string& name = words.front();
        if (std::find(refs.begin(), refs.end(), name) == refs.end()) continue;
        for (std::size_t k = 1; k < words.size(); ++k) {
            if (words[k].rfind("peeled:", 0) == 0) oid = words[k].substr(7);
        }
        tips[name] = oid;
    }
    if (!flushed) return fail(Error::Kind::decode, "ls-refs answer without a flush");
    return tips;
}

Result<PushReport> SmartHttp::push(const std::string& old_oid, const std::string& new_oid,
                                   const std::string& branch, const std::string& pack) {
    const std::string ref = "refs/heads/" + branch;
    std::string command = old_oid + " " + new_oid + " " + ref;
    command += '\0';
    command += "report-status side-band-64k quiet ";
    command += kAgent;
    command += "\n";
    std::string body = pkt_line(command) + "0000" + pack;
    POETRYOPS_TRY(std::string out, post("git-receive-pack", body, false));
    return parse_push_response(out, ref);
}

}  // namespace poetryops::git::detail
