// lodash (the whole CommonJS build): collections, strings, objects, chains and
// templates over real package manifests.
import _ from "lodash";
import manifests from "corpus-files:*/package.json?max=6000";
import readme from "corpus-files:lodash/README.md,qs/README.md?max=8000";
import { attempt, digest } from "./lib.js";

export default function main() {
  const data = manifests.flatMap((file) => {
    try {
      return [JSON.parse(file.text)];
    } catch {
      return [];
    }
  });
  const words = _.words(readme.map((f) => f.text).join(" "));
  const template = _.template("<% _.forEach(names, function(name) { %><li><%- name %></li><% }); %>");
  return {
    count: data.length,
    byLicense: _.mapValues(_.groupBy(data, "license"), (list) => _.map(list, "name").length),
    sorted: _.take(_.map(_.orderBy(data, ["version", "name"], ["desc", "asc"]), "name"), 20),
    deps: _.chain(data)
      .flatMap((pkg) => _.keys(pkg.dependencies))
      .countBy()
      .toPairs()
      .sortBy([([, n]) => -n, ([name]) => name])
      .take(15)
      .value(),
    cases: _.take(data, 30).map((pkg) => [
      _.camelCase(pkg.name),
      _.kebabCase(pkg.description),
      _.startCase(pkg.name),
      _.snakeCase(pkg.name),
      _.truncate(pkg.description, { length: 24 }),
      _.deburr(pkg.author?.name ?? String(pkg.author ?? "")),
    ]),
    words: [words.length, _.take(_.uniq(words.map(_.toLower)), 30)],
    merged: digest(_.merge({}, ...data.slice(0, 10).map((pkg) => _.pick(pkg, ["name", "engines", "scripts"])))),
    deep: _.isEqual(_.cloneDeep(data), data),
    diff: _.difference(_.map(data, "name"), _.map(data.slice(5), "name")),
    zipped: _.zipObject(_.map(data.slice(0, 8), "name"), _.map(data.slice(0, 8), "version")),
    lazy: _(_.range(1000))
      .map((n) => n * 3)
      .filter((n) => n % 7 === 0)
      .take(10)
      .value(),
    memo: (() => {
      const fib = _.memoize((n) => (n < 2 ? n : fib(n - 1) + fib(n - 2)));
      return fib(70);
    })(),
    escaped: _.escape("<a href='x'>&</a>"),
    template: attempt(() => template({ names: _.map(data.slice(0, 5), "name") })),
    chunks: _.chunk(_.range(20), 6),
    path: _.get(data[0], "repository.url", null),
    flat: _.flattenDeep([1, [2, [3, [4, [5]]]]]),
  };
}
