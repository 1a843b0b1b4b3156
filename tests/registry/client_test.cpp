#include <poetryops/registry/client.hpp>

#include <poetryops/http/server.hpp>
#include <poetryops/http/url.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>

#include <mutex>

namespace poetryops::registry {
namespace {

const std::string kManifest =
    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]})";
const std::string kOci = "application/vnd.oci.image.manifest.v1+json";

// A scriptable registry on the project's HTTP server; records every request.
class Fake {
public:
    using Fn = std::function<http::Response(const http::Request&)>;
    explicit Fake(Fn fn) : fn_(std::move(fn)) {
        auto port = server_.start({.port = 0}, [this](const http::Request& r) {
            {
                std::lock_guard lock(mu_);
                seen_.push_back(r);
            }
            return fn_(r);
        });
        EXPECT_TRUE(port);
    }
    std::string host() const { return "127.0.0.1:" + std::to_string(server_.port()); }
    std::string url() const { return server_.base_url(); }
    std::vector<http::Request> seen() {
        std::lock_guard lock(mu_);
        return seen_;
    }
    std::size_t count() { return seen().size(); }

private:
    Fn fn_;
    std::mutex mu_;
    std::vector<http::Request> seen_;
    http::Server server_;
};

http::Response manifest_response(const std::string& body, const std::string& digest, bool head) {
    auto r = http::Response::make(200, head ? "" : body, kOci);
    if (!digest.empty()) r.headers.set("Docker-Content-Digest", digest);
    if (head) r.headers.set("Content-Length", std::to_string(body.size()));
    return r;
}

struct Harness {
    ManualClock clock;
    std::vector<std::chrono::milliseconds> sleeps;
    RegistryClientOptions options(const std::vector<std::string>& hosts) {
        RegistryClientOptions o;
        for (const auto& h : hosts) o.hosts[h].plain_http = true;
        o.clock = &clock;
        o.sleep = [this](std::chrono::milliseconds d) {
            sleeps.push_back(d);
            clock.advance(d);
        };
        o.timeout = std::chrono::seconds(5);
        return o;
    }
};

std::unique_ptr<RegistryClient> make_client(RegistryClientOptions o) {
    return RegistryClient::create(std::move(o)).value();
}

Reference ref_of(const Fake& f, const std::string& rest) {
    return *parse_reference(f.host() + "/" + rest);
}

TEST(RegistryClient, ResolveIsOneHeadWithTheFullAcceptList) {
    auto digest = compute_digest(kManifest);
    Fake f([&](const http::Request& r) {
        return manifest_response(kManifest, digest, r.method == "HEAD");
    });
    Harness s;
    auto c = make_client(s.options({f.host()}));
    auto d = c->resolve(ref_of(f, "demo/app:1.0"));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->digest, digest);
    EXPECT_EQ(d->media_type, kOci);
    ASSERT_EQ(f.count(), 1u);
    auto req = f.seen()[0];
    EXPECT_EQ(req.method, "HEAD");
    EXPECT_EQ(req.url, "/v2/demo/app/manifests/1.0");
    auto accept = req.headers.get_or("Accept");
    for (auto t : {media::oci_manifest, media::oci_index, media::docker_manifest,
                   media::docker_manifest_list}) {
        EXPECT_NE(accept.find(t), std::string::npos) << t;
    }
    EXPECT_EQ(c->requests_sent(), 1u);
}

TEST(RegistryClient, HeadWithoutDigestFallsBackToGetAndHashes) {
    Fake f([&](const http::Request& r) {
        return manifest_response(kManifest, "", r.method == "HEAD");
    });
    Harness s;
    auto c = make_client(s.options({f.host()}));
    auto d = c->resolve(ref_of(f, "demo/app:1.0"));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->digest, compute_digest(kManifest));
    EXPECT_EQ(f.count(), 2u);
}

TEST(RegistryClient, DigestMismatchIsRefused) {
    auto wrong = compute_digest("something else");
    Fake f([&](const http::Request& r) {
        return manifest_response(kManifest, wrong, r.method == "HEAD");
    });
    Harness s;
    auto c = make_client(s.options({f.host()}));
    auto m = c->get_manifest(ref_of(f, "demo/app:1.0"));
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().reason, "DIGEST_MISMATCH");
    // Asking by digest: the bytes must hash to the digest asked for, whatever the registry says.
    auto by_digest = c->get_manifest(ref_of(f, "demo/app@" + wrong));
    ASSERT_FALSE(by_digest);
    EXPECT_EQ(by_digest.error().reason, "DIGEST_MISMATCH");
    auto head = c->resolve(ref_of(f, "demo/app@" + compute_digest(kManifest)));
    ASSERT_FALSE(head);
    EXPECT_EQ(head.error().reason, "DIGEST_MISMATCH");
}

TEST(RegistryClient, GarbageWrongContentTypeAndOversizedBodies) {
    std::string mode;
    Fake f([&](const http::Request&) {
        if (mode == "garbage") return http::Response::make(200, "{\"schemaVers", kOci);
        if (mode == "html") return http::Response::make(200, "<html>login</html>", "text/html");
        return http::Response::make(200, std::string(5000, ' ') + kManifest, kOci);
    });
    Harness s;
    auto o = s.options({f.host()});
    o.max_manifest_bytes = 4096;
    auto c = make_client(o);
    mode = "garbage";
    auto g = c->get_manifest(ref_of(f, "demo/app:1"));
    ASSERT_FALSE(g);
    EXPECT_EQ(g.error().kind, Error::Kind::decode);
    mode = "html";
    auto h = c->get_manifest(ref_of(f, "demo/app:1"));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error().reason, "UNSUPPORTED_MEDIA_TYPE");
    EXPECT_NE(h.error().message.find("text/html"), std::string::npos);
    mode = "big";
    auto b = c->get_manifest(ref_of(f, "demo/app:1"));
    ASSERT_FALSE(b);
    EXPECT_NE(b.error().message.find("4096"), std::string::npos) << b.error().message;
}

TEST(RegistryClient, NotFoundAndUnauthorizedAreTyped) {
    Fake f([&](const http::Request& r) {
        if (r.url.find("/secret/") != std::string::npos) {
            auto resp = http::Response::make(401, "", "application/json");
            resp.headers.set("WWW-Authenticate", "Basic realm=\"x\"");
            return resp;
        }
        return http::Response::make(
            404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})",
            "application/json");
    });
    Harness s;
    auto c = make_client(s.options({f.host()}));
    auto nf = c->get_manifest(ref_of(f, "demo/app:nope"));
    ASSERT_FALSE(nf);
    EXPECT_EQ(nf.error().kind, Error::Kind::not_found);
    EXPECT_EQ(nf.error().reason, "MANIFEST_UNKNOWN");
    auto head = c->resolve(ref_of(f, "demo/app:nope"));
    ASSERT_FALSE(head);
    EXPECT_EQ(head.error().kind, Error::Kind::not_found);
    auto un = c->resolve(ref_of(f, "secret/app:1"));
    ASSERT_FALSE(un);
    EXPECT_EQ(un.error().kind, Error::Kind::unauthorized);
}

TEST(RegistryClient, RedirectLoopsAndHopLimits) {
    Fake f([&](const http::Request& r) {
        auto resp = http::Response::make(307);
        if (r.url.rfind("/v2/loop/", 0) == 0) {
            resp.headers.set("Location", r.url.find("/a") != std::string::npos
                                             ? "/v2/loop/app/manifests/b"
                                             : "/v2/loop/app/manifests/a");
        } else {
            static std::atomic<int> n{0};
            resp.headers.set("Location", "/hop/" + std::to_string(++n));
        }
        return resp;
    });
    Harness s;
    auto c = make_client(s.options({f.host()}));
    auto loop = c->get_manifest(ref_of(f, "loop/app:a"));
    ASSERT_FALSE(loop);
    EXPECT_EQ(loop.error().reason, "RedirectLoop");
    auto hops = c->get_manifest(ref_of(f, "demo/app:1"));
    ASSERT_FALSE(hops);
    EXPECT_NE(hops.error().message.find("redirects"), std::string::npos) << hops.error().message;
    EXPECT_LE(f.count(), 2u + 6u);
}

TEST(RegistryClient, CredentialsDoNotFollowARedirectToAnotherHost) {
    Fake storage([&](const http::Request&) { return http::Response::make(200, kManifest, kOci); });
    Fake reg([&](const http::Request& r) {
        if (!r.headers.has("Authorization")) {
            auto resp = http::Response::make(401);
            resp.headers.set("WWW-Authenticate", "Basic realm=\"ci\"");
            return resp;
        }
        auto resp = http::Response::make(r.url.find("same") != std::string::npos ? 302 : 307);
        resp.headers.set("Location", r.url.find("same") != std::string::npos
                                         ? std::string("/v2/demo/app/manifests/x")
                                         : storage.url() + "/blob?sig=1");
        if (r.url.find("/x") != std::string::npos)
            return http::Response::make(200, kManifest, kOci);
        return resp;
    });
    Harness s;
    auto o = s.options({reg.host(), storage.host()});
    o.docker_config.set(reg.host(), Credentials{"user", "pass"});
    auto c = make_client(o);
    auto m = c->get_manifest(ref_of(reg, "demo/app:1"));
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(storage.count(), 1u);
    EXPECT_FALSE(storage.seen()[0].headers.has("Authorization"));
    EXPECT_EQ(storage.seen()[0].url, "/blob?sig=1");
    // A redirect within the registry keeps the credentials.
    auto same = c->get_manifest(ref_of(reg, "demo/app:same"));
    ASSERT_TRUE(same) << same.error().message;
    auto last = reg.seen().back();
    EXPECT_EQ(last.url, "/v2/demo/app/manifests/x");
    EXPECT_EQ(last.headers.get_or("Authorization"), "Basic " + str::base64_encode("user:pass"));
}

TEST(RegistryClient, HonoursRetryAfterAndBacksOffOn5xx) {
    std::atomic<int> n{0};
    auto digest = compute_digest(kManifest);
    Fake f([&](const http::Request& r) {
        int i = ++n;
        if (r.url.find("/busy/") != std::string::npos) {
            if (i == 1) {
                auto resp = http::Response::make(429);
                resp.headers.set("Retry-After", "2");
                return resp;
            }
        } else if (r.url.find("/flaky/") != std::string::npos) {
            if (i <= 2) return http::Response::make(503);
        } else if (r.url.find("/maintenance/") != std::string::npos) {
            if (i == 1) {
                auto resp = http::Response::make(503);
                resp.headers.set("Retry-After", "5");
                return resp;
            }
        } else if (r.url.find("/slow/") != std::string::npos) {
            auto resp = http::Response::make(429);
            resp.headers.set("Retry-After", "3600");
            return resp;
        }
        return manifest_response(kManifest, digest, r.method == "HEAD");
    });
    Harness s;
    auto c = make_client(s.options({f.host()}));
    ASSERT_TRUE(c->resolve(ref_of(f, "busy/app:1")));
    ASSERT_EQ(s.sleeps.size(), 1u);
    EXPECT_EQ(s.sleeps[0], std::chrono::seconds(2));
    n = 0;
    s.sleeps.clear();
    auto flaky = c->resolve(ref_of(f, "flaky/app:1"));
    ASSERT_TRUE(flaky) << flaky.error().message;
    EXPECT_EQ(s.sleeps.size(), 2u);
    // A 503 that says when the registry is back is waited for that long, not the backoff's 200 ms.
    n = 0;
    s.sleeps.clear();
    ASSERT_TRUE(c->resolve(ref_of(f, "maintenance/app:1")));
    ASSERT_EQ(s.sleeps.size(), 1u);
    EXPECT_EQ(s.sleeps[0], std::chrono::seconds(5));
    auto slow = c->resolve(ref_of(f, "slow/app:1"));
    ASSERT_FALSE(slow);
    EXPECT_NE(slow.error().message.find("Retry-After"), std::string::npos);
}

TEST(RegistryClient, BearerTokenFlowCachesPerScopeUntilExpiry) {
    std::atomic<int> tokens{0};
    auto digest = compute_digest(kManifest);
    std::string realm;
    Fake f([&](const http::Request& r) {
        auto [path, query] = http::split_target(r.url);
        if (path == "/token") {
            auto q = http::parse_query(query);
            EXPECT_EQ(r.headers.get_or("Authorization"), "Basic " + str::base64_encode("u:p"));
            ++tokens;
            std::string scope;
            for (auto& [k, v] : q) {
                if (k == "scope") scope = v;
            }
            return http::Response::make(
                200, R"({"access_token":"tok:)" + scope + R"(","expires_in":120})",
                "application/json");
        }
        auto auth = r.headers.get_or("Authorization");
        if (auth.rfind("Bearer tok:repository:", 0) != 0) {
            auto resp = http::Response::make(401);
            resp.headers.set("WWW-Authenticate",
                             "Bearer realm=\"" + realm +
                                 "\",service=\"fake\",scope=\"repository:demo/app:pull,push\"");
            return resp;
        }
        if (r.method == "PUT") {
            EXPECT_EQ(auth, "Bearer tok:repository:demo/app:pull,push");
            EXPECT_EQ(r.body, kManifest);
            EXPECT_EQ(r.headers.get_or("Content-Type"), kOci);
            auto resp = http::Response::make(201);
            resp.headers.set("Docker-Content-Digest", digest);
            return resp;
        }
        return manifest_response(kManifest, digest, r.method == "HEAD");
    });
    realm = f.url() + "/token";
    Harness s;
    auto o = s.options({f.host()});
    o.docker_config.set(f.host(), Credentials{"u", "p"});
    auto c = make_client(o);
    auto ref = ref_of(f, "demo/app:1");
    ASSERT_TRUE(c->resolve(ref));
    EXPECT_EQ(tokens.load(), 1);
    EXPECT_EQ(c->requests_sent(), 3u);  // 401, token, retry
    // Warm token: exactly one round trip.
    auto before = c->requests_sent();
    ASSERT_TRUE(c->resolve(ref));
    EXPECT_EQ(c->requests_sent() - before, 1u);
    EXPECT_EQ(tokens.load(), 1);
    // Another scope (push): the token service is known, so the token is fetched up front (no 401
    // round trip).
    before = c->requests_sent();
    auto put = c->put_manifest(ref, "2", kManifest, kOci);
    ASSERT_TRUE(put) << put.error().message;
    EXPECT_EQ(put->digest, digest);
    EXPECT_EQ(c->requests_sent() - before, 2u);
    EXPECT_EQ(tokens.load(), 2);
    // Expiry: after 120 s the pull token is fetched again.
    s.clock.advance(std::chrono::seconds(121));
    ASSERT_TRUE(c->resolve(ref));
    EXPECT_EQ(tokens.load(), 3);
}

TEST(RegistryClient, TagsFollowLinkPaginationAndSurviveRegistriesIgnoringN) {
    Fake paged([&](const http::Request& r) {
        if (r.url.find("last=b") != std::string::npos) {
            return http::Response::make(200, R"({"name":"demo/app","tags":["c"]})",
                                        "application/json");
        }
        auto resp = http::Response::make(200, R"({"name":"demo/app","tags":["a","b"]})",
                                         "application/json");
        resp.headers.set("Link", "</v2/demo/app/tags/list?last=b&n=2>; rel=\"next\"");
        return resp;
    });
    Fake ignoring([&](const http::Request&) {
        auto resp = http::Response::make(200, R"({"name":"demo/app","tags":["x","y"]})",
                                         "application/json");
        resp.headers.set("Link", "</v2/demo/app/tags/list?last=y&n=1000>; rel=\"next\"");
        return resp;
    });
    Fake empty([&](const http::Request&) {
        return http::Response::make(200, R"({"name":"demo/app","tags":null})", "application/json");
    });
    Harness s;
    auto c = make_client(s.options({paged.host(), ignoring.host(), empty.host()}));
    EXPECT_EQ(*c->list_tags(ref_of(paged, "demo/app")), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(*c->list_tags(ref_of(ignoring, "demo/app")), (std::vector<std::string>{"x", "y"}));
    EXPECT_EQ(ignoring.count(), 2u);
    EXPECT_TRUE(c->list_tags(ref_of(empty, "demo/app"))->empty());
}

TEST(RegistryClient, RequestBudgetPerRegistry) {
    auto digest = compute_digest(kManifest);
    Fake f([&](const http::Request& r) {
        return manifest_response(kManifest, digest, r.method == "HEAD");
    });
    Harness s;
    auto o = s.options({f.host()});
    o.requests_per_second = 2;
    o.burst = 2;
    auto c = make_client(o);
    auto ref = ref_of(f, "demo/app:1");
    ASSERT_TRUE(c->resolve(ref));
    ASSERT_TRUE(c->resolve(ref));
    EXPECT_TRUE(s.sleeps.empty());
    ASSERT_TRUE(c->resolve(ref));
    ASSERT_EQ(s.sleeps.size(), 1u);
    EXPECT_GE(s.sleeps[0], std::chrono::milliseconds(400));
    EXPECT_LE(s.sleeps[0], std::chrono::milliseconds(600));
}

TEST(RegistryClient, PlainHttpOnlyWhenAsked) {
    Fake f([&](const http::Request&) { return http::Response::make(200, kManifest, kOci); });
    Harness s;
    auto c = make_client(s.options({}));  // no plain_http: speaks TLS to a plain server
    auto r = c->get_manifest(ref_of(f, "demo/app:1"));
    ASSERT_FALSE(r);
    EXPECT_EQ(f.count(), 0u);
}

TEST(RetryAfter, SecondsAndDates) {
    Clock::time_point now;
    ASSERT_TRUE(parse_rfc3339("2026-01-01T00:00:00Z", now));
    EXPECT_EQ(parse_retry_after("7", now), std::chrono::seconds(7));
    EXPECT_EQ(parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now), std::chrono::seconds(30));
    EXPECT_FALSE(parse_retry_after("soon", now));
    EXPECT_FALSE(parse_retry_after("", now));
}

TEST(LinkHeader, NextOnly) {
    EXPECT_EQ(parse_link_next(R"(</v2/a/tags/list?last=x&n=2>; rel="next")"),
              "/v2/a/tags/list?last=x&n=2");
    EXPECT_EQ(parse_link_next(R"(</p>; rel="prev", </n>; rel=next)"), "/n");
    EXPECT_EQ(parse_link_next("garbage<"), "");
}

}  // namespace
}  // namespace poetryops::registry
