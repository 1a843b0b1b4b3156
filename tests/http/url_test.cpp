#include <poetryops/http/url.hpp>

#include <gtest/gtest.h>

namespace poetryops::http {
namespace {

TEST(ParseUrl, FillsDefaultsAndKeepsQuery) {
    auto u = parse_url("HTTPS://Registry.Example.com/v2/x/manifests/1.0?n=5#frag");
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "registry.example.com");
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->target, "/v2/x/manifests/1.0?n=5");
    EXPECT_EQ(u->path(), "/v2/x/manifests/1.0");
    EXPECT_EQ(u->query(), "n=5");
    EXPECT_EQ(u->authority(), "registry.example.com");
    EXPECT_EQ(u->host_port(), "registry.example.com:443");
    EXPECT_TRUE(u->tls());
    EXPECT_FALSE(u->is_ip_literal());
}

TEST(ParseUrl, EmptyPathBecomesSlash) {
    auto u = parse_url("http://127.0.0.1:8080");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->target, "/");
    EXPECT_EQ(u->port, 8080);
    EXPECT_TRUE(u->is_ip_literal());
    EXPECT_EQ(u->str(), "http://127.0.0.1:8080/");
    auto q = parse_url("http://h?x=1");
    ASSERT_TRUE(q);
    EXPECT_EQ(q->target, "/?x=1");
}

TEST(ParseUrl, Ipv6Literal) {
    auto u = parse_url("https://[::1]:6443/api");
    ASSERT_TRUE(u) << u.error().message;
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, 6443);
    EXPECT_TRUE(u->is_ip_literal());
    EXPECT_EQ(u->host_port(), "[::1]:6443");
    EXPECT_EQ(u->authority(), "[::1]:6443");
    auto d = parse_url("http://[2001:DB8::1]/");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->host, "2001:db8::1");
    EXPECT_EQ(d->authority(), "[2001:db8::1]");
    EXPECT_FALSE(parse_url("http://[::1/"));
    EXPECT_FALSE(parse_url("http://[nothex]/"));
    EXPECT_FALSE(parse_url("http://[::1]x/"));
}

TEST(ParseUrl, RejectsUserinfoWithoutEchoingIt) {
    auto u = parse_url("https://alice:s3cr3t-pass@registry.example.com/v2/");
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().kind, Error::Kind::invalid);
    EXPECT_EQ(u.error().message.find("s3cr3t"), std::string::npos) << u.error().message;
    EXPECT_EQ(u.error().message.find("alice"), std::string::npos) << u.error().message;
}

TEST(ParseUrl, RejectsBadInput) {
    EXPECT_FALSE(parse_url("registry.example.com/v2/"));
    EXPECT_FALSE(parse_url("ftp://host/"));
    EXPECT_FALSE(parse_url("http:///path"));
    EXPECT_FALSE(parse_url("http://host:0/"));
    EXPECT_FALSE(parse_url("http://host:65536/"));
    EXPECT_FALSE(parse_url("http://host:80x/"));
    EXPECT_FALSE(parse_url("http://host:/"));
    EXPECT_FALSE(parse_url("http://ho st/"));
    EXPECT_FALSE(parse_url("http://host/a b"));
    EXPECT_FALSE(parse_url("http://host/a\r\nX-Injected: 1"));
}

Url base() { return parse_url("https://reg.example.com/v2/app/blobs/sha256:abc?x=1").value(); }

TEST(ResolveRedirect, AbsoluteLocation) {
    auto r = resolve_redirect(base(), "https://cdn.example.net:8443/blob?sig=1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->str(), "https://cdn.example.net:8443/blob?sig=1");
    EXPECT_FALSE(same_origin(base(), *r));
}

TEST(ResolveRedirect, SchemeRelativeKeepsScheme) {
    auto r = resolve_redirect(base(), "//cdn.example.net/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->str(), "https://cdn.example.net/x");
}

TEST(ResolveRedirect, AbsolutePathKeepsOrigin) {
    auto r = resolve_redirect(base(), "/v2/other/blobs/y?z=2#f");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->str(), "https://reg.example.com/v2/other/blobs/y?z=2");
    EXPECT_TRUE(same_origin(base(), *r));
}

TEST(ResolveRedirect, RelativePathsAndDotSegments) {
    EXPECT_EQ(resolve_redirect(base(), "next").value().target, "/v2/app/blobs/next");
    EXPECT_EQ(resolve_redirect(base(), "../manifests/1").value().target, "/v2/app/manifests/1");
    EXPECT_EQ(resolve_redirect(base(), "./a/./b/../c").value().target, "/v2/app/blobs/a/c");
    EXPECT_EQ(resolve_redirect(base(), "../../../../../x").value().target, "/x");
    EXPECT_EQ(resolve_redirect(base(), "?y=2").value().target, "/v2/app/blobs/sha256:abc?y=2");
    EXPECT_EQ(resolve_redirect(base(), "").value().target, base().target);
}

TEST(ResolveRedirect, RejectsUnsupportedSchemesAndCredentials) {
    EXPECT_FALSE(resolve_redirect(base(), "ftp://x/y"));
    auto r = resolve_redirect(base(), "https://u:pw@evil.example/");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message.find("pw"), std::string::npos);
}

TEST(SameOrigin, ComparesSchemeHostPort) {
    auto a = parse_url("https://h/x").value();
    EXPECT_TRUE(same_origin(a, parse_url("https://H:443/y").value()));
    EXPECT_FALSE(same_origin(a, parse_url("http://h/x").value()));
    EXPECT_FALSE(same_origin(a, parse_url("https://h:444/x").value()));
}

TEST(RedirectStatus, Known) {
    for (int s : {301, 302, 303, 307, 308}) EXPECT_TRUE(is_redirect_status(s)) << s;
    for (int s : {200, 300, 304, 305, 404}) EXPECT_FALSE(is_redirect_status(s)) << s;
}

TEST(Query, SplitAndDecode) {
    auto [path, query] =
        split_target("/apis/x/y?watch=true&resourceVersion=12&labelSelector=a%3Db+c");
    EXPECT_EQ(path, "/apis/x/y");
    auto params = parse_query(query);
    ASSERT_EQ(params.size(), 3u);
    EXPECT_EQ(params[0], (std::pair<std::string, std::string>{"watch", "true"}));
    EXPECT_EQ(params[1].second, "12");
    EXPECT_EQ(params[2].second, "a=b c");
    EXPECT_EQ(parse_query("a&&b=").size(), 2u);
    EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
    EXPECT_EQ(percent_decode("a%2Fb+c"), "a/b+c");
    EXPECT_EQ(split_target("/p").second, "");
}

}  // namespace
}  // namespace poetryops::http
