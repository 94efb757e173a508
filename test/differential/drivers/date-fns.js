// date-fns: formatting, parsing, arithmetic and intervals in several locales,
// on the release dates in its own changelog.
import {
  addBusinessDays,
  differenceInBusinessDays,
  differenceInCalendarWeeks,
  differenceInMonths,
  eachWeekendOfMonth,
  format,
  formatDistanceStrict,
  formatDuration,
  formatISO,
  formatRelative,
  getISOWeek,
  intervalToDuration,
  isValid,
  lastDayOfQuarter,
  parse,
  parseISO,
  roundToNearestMinutes,
  setDay,
  startOfWeekYear,
} from "date-fns";
import { de, fr, ja, enGB } from "date-fns/locale";
import changelog from "corpus-files:date-fns/CHANGELOG.md";
import { attempt, isoDates } from "./lib.js";

const locales = [enGB, de, fr, ja];

export default function main() {
  const dates = isoDates(changelog[0].text, 30);
  const base = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
  const results = { count: dates.length, dates: {} };
  for (const [i, text] of dates.entries()) {
    const locale = locales[i % locales.length];
    const d = parseISO(`${text}T08:15:30`);
    results.dates[text] = {
      format: format(d, "EEEE, do MMMM yyyy 'at' HH:mm:ss a qqqq wo RRRR II", { locale }),
      iso: formatISO(d, { representation: "date" }),
      week: [getISOWeek(d), differenceInCalendarWeeks(base, d, { weekStartsOn: 1 })],
      months: differenceInMonths(base, d),
      business: [differenceInBusinessDays(base, d), format(addBusinessDays(d, 10), "yyyy-MM-dd")],
      distance: formatDistanceStrict(d, base, { locale, addSuffix: true }),
      relative: formatRelative(d, parseISO(`${text}T20:00:00`), { locale }),
      duration: formatDuration(intervalToDuration({ start: d, end: base }), { locale, delimiter: "; " }),
      weekends: eachWeekendOfMonth(d).map((w) => w.getDate()),
      quarter: format(lastDayOfQuarter(d), "yyyy-MM-dd"),
      weekYear: format(startOfWeekYear(d, { weekStartsOn: 1, firstWeekContainsDate: 4 }), "yyyy-MM-dd"),
      rounded: format(roundToNearestMinutes(d, { nearestTo: 15 }), "HH:mm"),
      setDay: format(setDay(d, 5, { locale }), "yyyy-MM-dd"),
      parsed: attempt(() => format(parse(format(d, "dd.MM.yyyy HH:mm", { locale }), "dd.MM.yyyy HH:mm", base), "PPpp")),
      bad: attempt(() => isValid(parse(`${text} 25:61`, "yyyy-MM-dd HH:mm", base))),
      throws: attempt(() => format(d, "yyyy-MM-dd 'unterminated")),
    };
  }
  return results;
}
