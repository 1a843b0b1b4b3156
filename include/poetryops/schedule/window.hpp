#pragma once
/// Promotion windows (issue #16, docs/promotion.md#promotion-windows): RFC 5545 recurrence rules
/// in an IANA time zone, each occurrence open for a fixed length, combined as allow and deny
/// windows (deny wins). Pure time arithmetic; the only outside input is the system time zone
/// database (/usr/share/zoneinfo, read once per zone by the date library).
///
///   auto rule = schedule::parse_rrule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9,10,11");
///   schedule::Window w{*rule, std::chrono::hours(1), schedule::WindowKind::allow, "Europe/Paris"};
///   schedule::State s = schedule::evaluate({w}, now);  // s.open, s.next_open, s.next_close

#include <poetryops/util/result.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::schedule {

using TimePoint = std::chrono::system_clock::time_point;

/// A recurrence rule: the subset of RFC 5545 §3.3.10 that needs no DTSTART (a window has no start
/// date): FREQ=DAILY|WEEKLY|MONTHLY|YEARLY, BYMONTH, BYMONTHDAY (±1..31), BYDAY (MO..SU, with an
/// ordinal such as 1MO or -1FR under MONTHLY and YEARLY), BYHOUR, BYMINUTE, UNTIL, INTERVAL=1,
/// WKST. Occurrences start at each BYHOUR:BYMINUTE (00:00 when absent) of each matching day.
struct RRule {
    enum class Freq { daily, weekly, monthly, yearly };
    struct Day {
        int weekday = 0;  ///< 0 = Sunday … 6 = Saturday
        int ordinal = 0;  ///< 0: every such day; n: the nth in the month (year); -n: from the end
    };
    Freq freq = Freq::daily;
    std::vector<int> months;      ///< 1..12; empty: every month
    std::vector<int> month_days;  ///< ±1..31; empty: every day
    std::vector<Day> days;        ///< empty: every weekday
    std::vector<int> hours{0};    ///< 0..23
    std::vector<int> minutes{0};  ///< 0..59
    /// UNTIL: no occurrence starts after it. Seconds since 1970-01-01T00:00:00, in UTC when
    /// until_utc, else in the window's local time.
    std::optional<std::int64_t> until;
    bool until_utc = false;
};

/// Parses an RRULE value ("FREQ=…;…", an "RRULE:" prefix allowed). The error names the 1-based
/// character where the problem is: `at character 21 ("XX"): not a weekday (MO, TU, …)`.
Result<RRule> parse_rrule(std::string_view text);

/// "" when `name` is a zone of the system time zone database, else why not.
std::string check_zone(std::string_view name);

enum class WindowKind { allow, deny };

struct Window {
    RRule rule;
    std::chrono::milliseconds length{0};  ///< each occurrence is open this long (elapsed time)
    WindowKind kind = WindowKind::allow;
    std::string zone = "UTC";      ///< IANA name; an unknown zone makes the window never match
    bool block_rollbacks = false;  ///< the window applies to rollbacks too
};

/// A half-open span of time [begin, end).
struct Interval {
    TimePoint begin;
    TimePoint end;
    bool operator==(const Interval&) const = default;
};

/// The occurrences of `rule` in `zone`, each `length` long, that overlap [from, to), in order. A
/// local start time that does not exist (a DST gap) is read with the offset before the gap, an
/// ambiguous one (the hour repeated in autumn) as its first instant (RFC 5545 §3.3.5). Unknown
/// zone: empty.
std::vector<Interval> occurrences(const RRule& rule, std::string_view zone,
                                  std::chrono::milliseconds length, TimePoint from, TimePoint to);

/// Whether a promotion may happen now, and when that changes.
struct State {
    bool open = true;
    /// The next time it opens: while closed, the end of this closed span; while open, the start of
    /// the open span after this one. Unset when it does not happen within a year.
    std::optional<TimePoint> next_open;
    /// The next time it closes. Unset when it does not happen within a year.
    std::optional<TimePoint> next_close;
    /// While closed, which window keeps it closed, one line: "deny window 1 (FREQ=…) until …" or
    /// "outside every allow window".
    std::string why;
};

/// Evaluates `windows` at `now`: open when inside at least one allow window (or when there is no
/// allow window) and inside no deny window. `rollback`: only the windows with block_rollbacks
/// count (rollbacks are allowed otherwise).
State evaluate(const std::vector<Window>& windows, TimePoint now, bool rollback = false);

}  // namespace poetryops::schedule
