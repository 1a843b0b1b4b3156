#pragma once
/// The two smart-HTTP exchanges the promotion path needs, spoken in-process over a kept-alive
/// connection instead of through `git fetch` / `git push` child processes (each of which costs a
/// dozen processes on both ends):
///
/// - branch_tip(): protocol v2 `ls-refs` with a `ref-prefix` (one POST; the answer's size does not
/// grow with the
///   number of refs), to tell whether the clone's copy of a branch is current without fetching;
/// - push(): one POST to `git-receive-pack` carrying the ref update `OLD NEW refs/heads/B` and a
/// pack with the new
///   objects. The server applies it only if the ref still equals OLD (receive-pack's atomic
///   compare-and-swap), so a push built on a stale tip is refused, never forced.
///
/// Both are optimisations with a fallback: the callers (Repo) run the git command whenever this
/// class answers with anything other than a definite result, so every error a user sees still comes
/// from git's own transport.
///
/// Protocol references: gitprotocol-http(5), gitprotocol-v2(5), gitprotocol-pack(5),
/// gitprotocol-common(5).

#include <poetryops/git/remote.hpp>
#include <poetryops/util/result.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::http {
class Client;
}

namespace poetryops::git::detail {

/// pkt-line framing: 4 hex digits of length (including themselves) and the payload.
std::string pkt_line(std::string_view payload);
/// Splits pkt-lines; flush (0000), delim (0001) and response-end (0002) become empty strings. Fails
/// on bad framing.
Result<std::vector<std::string>> parse_pkt_lines(std::string_view data);

/// The result of a push POST that the server answered.
struct PushReport {
    bool ok = false;     ///< "unpack ok" and "ok REF"
    std::string reason;  ///< the server's reason when not ok ("ng REF REASON", "unpack REASON")
    /// side-band 2/3 text, as `git push` prints it after "remote:"
    std::vector<std::string> remote_lines;
};

/// Parses a receive-pack response (report-status inside side-band-64k) for `ref`.
Result<PushReport> parse_push_response(std::string_view body, const std::string& ref);

/// True when a refused ref update means "the branch moved" (the caller fetches and re-applies)
/// rather than a policy refusal such as a hook.
bool is_stale_ref_reason(std::string_view reason);

class SmartHttp {
public:
    /// True for http:// and https:// remotes without a user name in the URL, when no proxy variable
    /// is set.
    static bool applies(const Remote& remote);
    /// Needs applies(remote). Builds the HTTP client (CA file from the remote).
    static Result<std::unique_ptr<SmartHttp>> create(const Remote& remote);
    ~SmartHttp();
    SmartHttp(const SmartHttp&) = delete;
    SmartHttp& operator=(const SmartHttp&) = delete;

    /// The tip of refs/heads/`branch` on the server; nullopt when the branch does not exist. An
    /// error means "ask git" (transport, authentication, a server without protocol v2).
    Result<std::optional<std::string>> branch_tip(const std::string& branch);

    /// The tips of the full ref names `refs` in one ls-refs request (a ref-prefix line each, and
    /// "peel": an annotated tag gives the commit it points to). Refs the server lacks are absent.
    /// Errors as branch_tip().
    Result<std::map<std::string, std::string>> ref_tips(const std::vector<std::string>& refs);

    /// Sends `old_oid → new_oid` for refs/heads/`branch` with `pack` (a complete pack of the
    /// objects the server lacks). An error means the server's answer was not seen (transport, HTTP
    /// status): ask git.
    Result<PushReport> push(const std::string& old_oid, const std::string& new_oid,
                            const std::string& branch, const std::string& pack);

private:
    SmartHttp(Remote remote, std::unique_ptr<http::Client> client);
    Result<std::string> post(const std::string& service, const std::string& body, bool protocol_v2);

    Remote remote_;
    std::string base_url_;  ///< the URL without a trailing slash
    std::string authorization_;
    std::unique_ptr<http::Client> client_;
    bool v2_refused_ = false;  ///< the server did not answer ls-refs: stop asking
    /// after a network error, git alone for a minute
    std::chrono::steady_clock::time_point paused_until_{};
};

}  // namespace poetryops::git::detail
