#pragma once
/// Result<T> and Error: expected failures as values (STYLE.md "Types and errors").
/// Shaped like std::expected so it can be swapped for it later.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace poetryops {

/// An expected failure: bad input, a server's refusal, a timeout. Never thrown.
struct Error {
    enum class Kind {
        transport,     ///< connection refused, reset, TLS failure
        timeout,       ///< an operation ran past its deadline
        http,          ///< a server answered with an unexpected HTTP status
        decode,        ///< bytes that do not parse (JSON, YAML, TOML, a Dockerfile)
        invalid,       ///< input that parses but is not acceptable
        conflict,      ///< optimistic-concurrency failure (409, non-fast-forward)
        not_found,     ///< 404, a missing file or key
        gone,          ///< 410 / expired resourceVersion
        unauthorized,  ///< 401/403, bad credentials
        internal,      ///< a bug or an environment problem (fork failed, disk full)
    };
    Kind kind = Kind::internal;
    int http_status = 0;  ///< HTTP status when one was received
    std::string reason;   ///< short machine-readable reason, e.g. "NotFound", "MANIFEST_UNKNOWN"
    std::string message;  ///< one human-readable line: names the file/field/host and what is wrong
    bool terminal = false;  ///< retrying the same request cannot succeed

    /// "message" alone; reason/status are for programs.
    const std::string& what() const { return message; }

    static Error make(Kind k, std::string msg, std::string reason = {}) {
        Error e;
        e.kind = k;
        e.message = std::move(msg);
        e.reason = std::move(reason);
        return e;
    }
};

const char* to_string(Error::Kind kind);

/// Marker to build an error Result: `return fail(Error::Kind::invalid, "...")`.
struct Unexpected {
    Error error;
};
inline Unexpected fail(Error e) { return Unexpected{std::move(e)}; }
inline Unexpected fail(Error::Kind k, std::string msg, std::string reason = {}) {
    return Unexpected{Error::make(k, std::move(msg), std::move(reason))};
}

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}         // NOLINT(implicit)
    Result(Unexpected u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT(implicit)
    Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}             // NOLINT(implicit)

    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }

    T& value() & {
        assert(has_value());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(has_value());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(has_value());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& {
        assert(!has_value());
        return std::get<1>(v_);
    }
    Error&& error() && {
        assert(!has_value());
        return std::get<1>(std::move(v_));
    }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
    }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Unexpected u) : err_(std::move(u.error)), ok_(false) {}  // NOLINT(implicit)
    Result(Error e) : err_(std::move(e)), ok_(false) {}             // NOLINT(implicit)
    bool has_value() const { return ok_; }
    explicit operator bool() const { return ok_; }
    void value() const { assert(ok_); }
    const Error& error() const& {
        assert(!ok_);
        return err_;
    }
    Error&& error() && {
        assert(!ok_);
        return std::move(err_);
    }

private:
    Error err_;
    bool ok_ = true;
};

/// Result<void> success value: `return ok();`
inline Result<void> ok() { return {}; }

}  // namespace poetryops

/// Propagate an error: `POETRYOPS_TRY(auto x, parse(...));` or `POETRYOPS_TRY_VOID(write(...));`
#define POETRYOPS_CONCAT_INNER(a, b) a##b
#define POETRYOPS_CONCAT(a, b) POETRYOPS_CONCAT_INNER(a, b)
#define POETRYOPS_TRY(decl, expr)                                                        \
    auto POETRYOPS_CONCAT(_po_r_, __LINE__) = (expr);                                    \
    if (!POETRYOPS_CONCAT(_po_r_, __LINE__))                                             \
        return ::poetryops::fail(std::move(POETRYOPS_CONCAT(_po_r_, __LINE__)).error()); \
    decl = std::move(POETRYOPS_CONCAT(_po_r_, __LINE__)).value()
#define POETRYOPS_TRY_VOID(expr)                                          \
    do {                                                                  \
        auto _po_rv = (expr);                                             \
        if (!_po_rv) return ::poetryops::fail(std::move(_po_rv).error()); \
    } while (0)
