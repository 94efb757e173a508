// dayjs with its plugins and locales, on the release dates in its own changelog.
import dayjs from "dayjs";
import utc from "dayjs/plugin/utc.js";
import customParseFormat from "dayjs/plugin/customParseFormat.js";
import advancedFormat from "dayjs/plugin/advancedFormat.js";
import isoWeek from "dayjs/plugin/isoWeek.js";
import weekOfYear from "dayjs/plugin/weekOfYear.js";
import weekYear from "dayjs/plugin/weekYear.js";
import duration from "dayjs/plugin/duration.js";
import relativeTime from "dayjs/plugin/relativeTime.js";
import localizedFormat from "dayjs/plugin/localizedFormat.js";
import quarterOfYear from "dayjs/plugin/quarterOfYear.js";
import minMax from "dayjs/plugin/minMax.js";
import "dayjs/locale/de.js";
import "dayjs/locale/fr.js";
import "dayjs/locale/ja.js";
import "dayjs/locale/ar.js";
import changelog from "corpus-files:dayjs/CHANGELOG.md";
import { attempt, isoDates } from "./lib.js";

for (const plugin of [
  utc,
  customParseFormat,
  advancedFormat,
  isoWeek,
  weekOfYear,
  weekYear,
  duration,
  relativeTime,
  localizedFormat,
  quarterOfYear,
  minMax,
]) {
  dayjs.extend(plugin);
}

export default function main() {
  const dates = isoDates(changelog[0].text, 40);
  const base = dayjs.utc("2024-02-29T12:34:56.789Z");
  const results = { count: dates.length, dates: {} };
  for (const [i, text] of dates.entries()) {
    const d = dayjs.utc(text).add(i * 7919, "second");
    const locale = ["en", "de", "fr", "ja", "ar"][i % 5];
    results.dates[text] = {
      iso: d.toISOString(),
      format: d.locale(locale).format("dddd, MMMM D YYYY [at] HH:mm:ss A Q Do wo gggg"),
      localized: d.locale(locale).format("LLLL LT L"),
      isoWeek: [d.isoWeek(), d.isoWeekday(), d.week(), d.quarter()],
      startOf: ["year", "month", "week", "isoWeek", "day", "hour"].map((unit) => d.startOf(unit).valueOf()),
      endOf: d.endOf("month").format(),
      diff: ["year", "month", "day", "hour", "minute"].map((unit) => base.diff(d, unit, true)),
      relative: d.locale(locale).from(base),
      to: d.to(base, true),
      duration: dayjs.duration(base.diff(d)).locale(locale).humanize(),
      durationIso: dayjs.duration(base.diff(d)).toISOString(),
      parsed: attempt(() => dayjs.utc(d.format("DD/MM/YYYY HH:mm"), "DD/MM/YYYY HH:mm", true).toISOString()),
      invalid: attempt(() => dayjs(`${text}T99:99`, "YYYY-MM-DDTHH:mm", true).isValid()),
    };
  }
  const all = dates.map((text) => dayjs.utc(text));
  results.range = [dayjs.min(all)?.toISOString(), dayjs.max(all)?.toISOString()];
  results.sorted = all
    .slice()
    .sort((a, b) => a.valueOf() - b.valueOf())
    .slice(0, 5)
    .map((d) => d.format("YYYY-MM-DD"));
  return results;
}
