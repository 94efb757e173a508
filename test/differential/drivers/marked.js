// marked: Markdown to HTML on the READMEs and changelogs of real packages, with
// the default options, GFM off, line breaks, an extension and async walkTokens.
import { marked, Marked } from "marked";
import docs from "corpus-files:marked/README.md,semver/README.md,yaml/README.md,mustache/README.md,diff/README.md?max=3000";
import { attempt, attemptAsync, digest, histogram } from "./lib.js";

class Outline {
  constructor() {
    this.headings = [];
  }
  get depthCounts() {
    return histogram(this.headings, (h) => `h${h.depth}`);
  }
  record(token) {
    if (token.type === "heading") this.headings.push({ depth: token.depth, text: token.text });
  }
}

export default async function main() {
  const results = {};
  for (const doc of docs) {
    const outline = new Outline();
    const tokens = marked.lexer(doc.text);
    marked.walkTokens(tokens, (token) => outline.record(token));
    const custom = new Marked({
      gfm: true,
      breaks: true,
      renderer: {
        heading({ tokens, depth }) {
          const text = this.parser.parseInline(tokens);
          const id = text.toLowerCase().replace(/[^\w]+/g, "-");
          return `<h${depth} id="${id}">${text}</h${depth}>\n`;
        },
      },
      extensions: [
        {
          name: "mention",
          level: "inline",
          start: (src) => src.indexOf("@"),
          tokenizer(src) {
            const match = /^@([a-z][\w-]*)/i.exec(src);
            if (match) return { type: "mention", raw: match[0], user: match[1] };
            return undefined;
          },
          renderer: (token) => `<span class="mention">${token.user}</span>`,
        },
      ],
    });
    const asyncMarked = new Marked({
      async: true,
      async walkTokens(token) {
        if (token.type === "codespan") {
          await null;
          token.text = token.text.toUpperCase();
        }
      },
    });
    results[doc.path] = {
      tokens: histogram(tokens, (t) => t.type),
      headings: digest(outline.headings.map((h) => h.text)),
      depths: outline.depthCounts,
      html: attempt(() => marked.parse(doc.text)),
      noGfm: attempt(() => marked.parse(doc.text, { gfm: false })),
      custom: attempt(() => custom.parse(doc.text)),
      inline: attempt(() => marked.parseInline(doc.text.split("\n").find((line) => line.length > 40) ?? "")),
      async: await attemptAsync(() => asyncMarked.parse(doc.text)),
    };
  }
  return results;
}
