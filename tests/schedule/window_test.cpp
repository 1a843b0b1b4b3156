// Promotion windows: the rule grammar (errors name the character), occurrences across DST changes
// and leap days, and allow/deny windows combined (deny wins), with when they open and close.
#include <poetryops/schedule/window.hpp>

#include <date/date.h>
#include <gtest/gtest.h>

namespace poetryops::schedule {
namespace {

using namespace std::chrono_literals;

/// A UTC instant: utc(2026, 12, 7, 9, 30).
TimePoint utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
    return TimePoint(
        date::sys_days{date::year{y} / date::month{m} / date::day{d}}.time_since_epoch() +
        std::chrono::hours(h) + std::chrono::minutes(min));
}

std::string text(TimePoint t) {
    return date::format("%FT%TZ", date::floor<std::chrono::seconds>(t));
}

RRule rule(std::string_view s) {
    auto r = parse_rrule(s);
    EXPECT_TRUE(r) << s << ": " << (r ? "" : r.error().message);
    return r ? *r : RRule{};
}

Window window(std::string_view r, std::chrono::milliseconds length, WindowKind kind,
              std::string zone = "Europe/Paris", bool block_rollbacks = false) {
    return Window{rule(r), length, kind, std::move(zone), block_rollbacks};
}

std::string error_of(std::string_view s) {
    auto r = parse_rrule(s);
    return r ? std::string("parsed") : r.error().message;
}

TEST(RRule, ParsesTheIssuesExample) {
    RRule r = rule("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9,10,11,12,13,14,15");
    EXPECT_EQ(r.freq, RRule::Freq::weekly);
    ASSERT_EQ(r.days.size(), 4u);
    EXPECT_EQ(r.days[0].weekday, 1);
    EXPECT_EQ(r.hours.size(), 7u);
    EXPECT_EQ(r.minutes, std::vector<int>{0});
    // An "RRULE:" prefix, lower case and a trailing ';' are accepted.
    EXPECT_EQ(rule("RRULE:freq=monthly;byday=-1fr;").days[0].ordinal, -1);
}

TEST(RRule, ErrorsNameTheCharacterAndWhatIsWrong) {
    EXPECT_EQ(error_of("FREQ=WEEKLY;BYDAY=MO,XX"),
              "at character 22 (\"XX\"): not a weekday (MO, TU, WE, TH, FR, SA, SU)");
    EXPECT_EQ(error_of("FREQ=DAILY;BYHOUR=9,24"), "at character 21 (\"24\"): not an hour (0..23)");
    EXPECT_EQ(error_of("FREQ=FORTNIGHTLY"),
              "at character 6 (\"FORTNIGHTLY\"): not a frequency (DAILY, WEEKLY, MONTHLY, YEARLY)");
    EXPECT_EQ(error_of("FREQ=DAILY;COUNT=3"),
              "at character 12 (\"COUNT\"): COUNT needs a DTSTART, and a window has none; use "
              "UNTIL");
    EXPECT_EQ(error_of("FREQ=DAILY;INTERVAL=2"),
              "at character 21 (\"2\"): INTERVAL other than 1 needs a DTSTART, and a window has "
              "none");
    EXPECT_EQ(error_of("FREQ=DAILY;FREQ=WEEKLY"), "at character 12 (\"FREQ\"): FREQ appears twice");
    EXPECT_EQ(error_of("FREQ=DAILY;;BYHOUR=9"), "at character 12 (\"\"): an empty rule part");
    EXPECT_EQ(error_of("BYHOUR=9"), "at character 1 (\"BYHOUR=9\"): FREQ is required");
    EXPECT_EQ(error_of("FREQ=DAILY;BYHOUR"), "at character 12 (\"BYHOUR\"): not NAME=VALUE");
    EXPECT_EQ(error_of("FREQ=DAILY;UNTIL=2026-12-31"),
              "at character 18 (\"2026-12-31\"): not a date (YYYYMMDD) or date-time "
              "(YYYYMMDDTHHMMSS, Z for UTC)");
    EXPECT_NE(error_of("FREQ=WEEKLY").find("FREQ=WEEKLY needs BYDAY"), std::string::npos);
    EXPECT_NE(error_of("FREQ=WEEKLY;BYDAY=1MO").find("needs FREQ=MONTHLY or FREQ=YEARLY"),
              std::string::npos);
    EXPECT_NE(error_of("FREQ=HOURLY").find("use FREQ=DAILY with BYHOUR"), std::string::npos);
    EXPECT_NE(error_of("FREQ=DAILY;BYSETPOS=1").find("BYSETPOS is not supported"),
              std::string::npos);
    EXPECT_NE(error_of(std::string(2000, 'A')).find("more than 1024"), std::string::npos);
}

TEST(Zone, UnknownZonesAreNamed) {
    EXPECT_EQ(check_zone("Europe/Paris"), "");
    EXPECT_EQ(check_zone("UTC"), "");
    EXPECT_NE(check_zone("Mars/Olympus_Mons").find("\"Mars/Olympus_Mons\" is not a time zone"),
              std::string::npos);
    EXPECT_NE(check_zone("../../etc/passwd"), "");
    // An unknown zone matches nothing.
    EXPECT_TRUE(
        occurrences(rule("FREQ=DAILY"), "Mars/Olympus_Mons", 1h, utc(2026, 1, 1), utc(2026, 2, 1))
            .empty());
}

TEST(Window, OfficeHoursInParisOpenAndClose) {
    std::vector<Window> w{
        window("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9,10,11,12,13,14,15", 1h, WindowKind::allow)};
    // Monday 2026-12-07 10:30 in Paris (CET, UTC+1) = 09:30Z: open until 16:00 Paris.
    State s = evaluate(w, utc(2026, 12, 7, 9, 30));
    EXPECT_TRUE(s.open);
    ASSERT_TRUE(s.next_close && s.next_open);
    EXPECT_EQ(text(*s.next_close), "2026-12-07T15:00:00Z");
    EXPECT_EQ(text(*s.next_open), "2026-12-08T08:00:00Z");
    // Friday: closed until Monday 09:00 Paris.
    s = evaluate(w, utc(2026, 12, 11, 10));
    EXPECT_FALSE(s.open);
    EXPECT_EQ(s.why, "outside every allow window");
    ASSERT_TRUE(s.next_open && s.next_close);
    EXPECT_EQ(text(*s.next_open), "2026-12-14T08:00:00Z");
    EXPECT_EQ(text(*s.next_close), "2026-12-14T15:00:00Z");
    // The close is exclusive: at 16:00 Paris it is closed.
    EXPECT_FALSE(evaluate(w, utc(2026, 12, 7, 15)).open);
    EXPECT_TRUE(evaluate(w, utc(2026, 12, 7, 14, 59)).open);
}

TEST(Window, LocalHoursFollowDaylightSavingTime) {
    // 09:00 in Paris is 08:00Z in winter and 07:00Z in summer; Europe switched on 2026-03-29 and
    // 2026-10-25.
    auto occ = occurrences(rule("FREQ=DAILY;BYHOUR=9"), "Europe/Paris", 1h, utc(2026, 3, 28),
                           utc(2026, 3, 31));
    ASSERT_EQ(occ.size(), 3u);
    EXPECT_EQ(text(occ[0].begin), "2026-03-28T08:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2026-03-29T07:00:00Z");
    EXPECT_EQ(text(occ[2].begin), "2026-03-30T07:00:00Z");
    occ = occurrences(rule("FREQ=DAILY;BYHOUR=9"), "Europe/Paris", 1h, utc(2026, 10, 24),
                      utc(2026, 10, 27));
    ASSERT_EQ(occ.size(), 3u);
    EXPECT_EQ(text(occ[0].begin), "2026-10-24T07:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2026-10-25T08:00:00Z");
    // New York switches on other dates (2026-03-08): 09:00 is 14:00Z before, 13:00Z after.
    occ = occurrences(rule("FREQ=DAILY;BYHOUR=9"), "America/New_York", 1h, utc(2026, 3, 7),
                      utc(2026, 3, 9));
    ASSERT_EQ(occ.size(), 2u);
    EXPECT_EQ(text(occ[0].begin), "2026-03-07T14:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2026-03-08T13:00:00Z");
}

TEST(Window, StartsInTheSpringGapOrTheRepeatedHourFollowRfc5545) {
    // 02:30 does not exist in Paris on 2026-03-29: read with the offset before the gap (+01:00),
    // 01:30Z, which is 03:30 CEST. The window still lasts one hour of real time.
    auto occ = occurrences(rule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30"), "Europe/Paris", 1h,
                           utc(2026, 3, 29), utc(2026, 3, 29, 23));
    ASSERT_EQ(occ.size(), 1u);
    EXPECT_EQ(text(occ[0].begin), "2026-03-29T01:30:00Z");
    EXPECT_EQ(occ[0].end - occ[0].begin, 1h);
    // 02:30 happens twice on 2026-10-25: the first one (CEST, 00:30Z), once.
    occ = occurrences(rule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30"), "Europe/Paris", 1h,
                      utc(2026, 10, 25), utc(2026, 10, 25, 23));
    ASSERT_EQ(occ.size(), 1u);
    EXPECT_EQ(text(occ[0].begin), "2026-10-25T00:30:00Z");
}

TEST(Window, LeapDaysAndLastDaysOfTheMonth) {
    auto occ = occurrences(rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"), "UTC", 24h, utc(2026, 1, 1),
                           utc(2033, 1, 1));
    ASSERT_EQ(occ.size(), 2u);
    EXPECT_EQ(text(occ[0].begin), "2028-02-29T00:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2032-02-29T00:00:00Z");
    occ = occurrences(rule("FREQ=MONTHLY;BYMONTHDAY=-1;BYMONTH=2"), "UTC", 1h, utc(2027, 1, 1),
                      utc(2029, 1, 1));
    ASSERT_EQ(occ.size(), 2u);
    EXPECT_EQ(text(occ[0].begin), "2027-02-28T00:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2028-02-29T00:00:00Z");
    // The last Friday of each month, and the first Monday of the year.
    occ = occurrences(rule("FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18"), "UTC", 1h, utc(2026, 11, 1),
                      utc(2027, 1, 1));
    ASSERT_EQ(occ.size(), 2u);
    EXPECT_EQ(text(occ[0].begin), "2026-11-27T18:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2026-12-25T18:00:00Z");
    occ = occurrences(rule("FREQ=YEARLY;BYDAY=1MO"), "UTC", 1h, utc(2026, 1, 1), utc(2028, 1, 1));
    ASSERT_EQ(occ.size(), 2u);
    EXPECT_EQ(text(occ[0].begin), "2026-01-05T00:00:00Z");
    EXPECT_EQ(text(occ[1].begin), "2027-01-04T00:00:00Z");
}

TEST(Window, UntilEndsTheRule) {
    auto occ = occurrences(rule("FREQ=DAILY;BYHOUR=12;UNTIL=20261203"), "UTC", 1h, utc(2026, 12, 1),
                           utc(2026, 12, 10));
    ASSERT_EQ(occ.size(), 3u);
    EXPECT_EQ(text(occ.back().begin), "2026-12-03T12:00:00Z");
    // A UTC UNTIL compares instants: 12:00 Paris is 11:00Z, so UNTIL 11:00Z keeps that day's.
    occ = occurrences(rule("FREQ=DAILY;BYHOUR=12;UNTIL=20261203T110000Z"), "Europe/Paris", 1h,
                      utc(2026, 12, 1), utc(2026, 12, 10));
    EXPECT_EQ(occ.size(), 3u);
}

TEST(Window, DenyWinsOverAllowAndNamesItself) {
    std::vector<Window> w{
        window("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9", 8h, WindowKind::allow),
        window("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24", 72h, WindowKind::deny),
    };
    // Thursday 2026-12-24 10:00 Paris: inside the allow window, but the Christmas freeze denies.
    State s = evaluate(w, utc(2026, 12, 24, 9));
    EXPECT_FALSE(s.open);
    EXPECT_EQ(s.why, "inside deny window 2");
    ASSERT_TRUE(s.next_open);
    // The freeze ends on Sunday 27 at 00:00 Paris; the next allow window is Monday 28, 09:00.
    EXPECT_EQ(text(*s.next_open), "2026-12-28T08:00:00Z");
    // The day before, it closes at 17:00 as usual and the next opening skips the freeze.
    s = evaluate(w, utc(2026, 12, 23, 9));
    EXPECT_TRUE(s.open);
    ASSERT_TRUE(s.next_close && s.next_open);
    EXPECT_EQ(text(*s.next_close), "2026-12-23T16:00:00Z");
    EXPECT_EQ(text(*s.next_open), "2026-12-28T08:00:00Z");
    // Deny windows alone: open outside them.
    std::vector<Window> deny{window("FREQ=WEEKLY;BYDAY=FR;BYHOUR=15", 66h, WindowKind::deny)};
    EXPECT_TRUE(evaluate(deny, utc(2026, 12, 10, 12)).open);
    s = evaluate(deny, utc(2026, 12, 12, 12));
    EXPECT_FALSE(s.open);
    ASSERT_TRUE(s.next_open);
    EXPECT_EQ(text(*s.next_open), "2026-12-14T08:00:00Z");  // Monday 09:00 Paris
}

TEST(Window, RollbacksIgnoreWindowsUnlessTheyBlockThem) {
    // In UTC: in Paris a 24-hour length leaves the extra hour of the autumn change uncovered.
    std::vector<Window> w{window("FREQ=DAILY", 24h, WindowKind::deny, "UTC")};
    EXPECT_FALSE(evaluate(w, utc(2026, 12, 3, 12)).open);
    EXPECT_TRUE(evaluate(w, utc(2026, 12, 3, 12), true).open);
    w[0].block_rollbacks = true;
    EXPECT_FALSE(evaluate(w, utc(2026, 12, 3, 12), true).open);
    // Always denied: no next opening within a year.
    State s = evaluate(w, utc(2026, 12, 3, 12));
    EXPECT_FALSE(s.next_open);
}

TEST(Window, NoWindowsIsAlwaysOpen) {
    State s = evaluate({}, utc(2026, 12, 3));
    EXPECT_TRUE(s.open);
    EXPECT_FALSE(s.next_open);
    EXPECT_FALSE(s.next_close);
}

}  // namespace
}  // namespace poetryops::schedule
