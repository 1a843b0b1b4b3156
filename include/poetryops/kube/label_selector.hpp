#pragma once
/// Label selectors (the `labelSelector` query parameter): `app=web,tier!=db,env in
/// (dev,prod),!legacy,canary`.

#include <poetryops/util/result.hpp>

#include <nlohmann/json_fwd.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::kube {

/// A parsed selector; the empty selector matches everything. Value type.
class LabelSelector {
public:
    enum class Op { equals, not_equals, in, not_in, exists, not_exists };
    struct Requirement {
        std::string key;
        Op op = Op::exists;
        std::vector<std::string> values;
    };

    /// Parses the string form. Errors (Kind::invalid) name the offending requirement.
    static Result<LabelSelector> parse(std::string_view text);

    bool matches(const std::map<std::string, std::string>& labels) const;
    /// Matches an object's metadata.labels.
    bool matches(const nlohmann::json& object) const;
    bool empty() const { return reqs_.empty(); }
    const std::vector<Requirement>& requirements() const { return reqs_; }

private:
    std::vector<Requirement> reqs_;
};

}  // namespace poetryops::kube
