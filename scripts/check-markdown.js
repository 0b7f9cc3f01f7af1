// check-markdown.js - renders Markdown files with the CommonMark reference parser (commonmark.js)
// and fails when a file does not render as its source says it should:
//
//   1. a fenced code block that is not closed by a closing fence (it runs on to the end of its
//      container, usually the end of the document, swallowing everything after it);
//   2. a line inside a fenced code block that begins like its closing fence but carries text
//      after it (``` followed by prose is no closing fence, so the block goes on);
//   3. a line that begins with "#" and a space, outside every fence as a reader of the source
//      sees them (a plain scan: a line starting with ``` or ~~~ opens or closes one), that is
//      not a heading once rendered: a block above swallowed it.
//
// usage: node scripts/check-markdown.js FILE...   (COMMONMARK_DIR: where commonmark is installed)
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.env.COMMONMARK_DIR;
const commonmark = require(dir ? path.join(dir, 'node_modules', 'commonmark') : 'commonmark');

// Whatever container markers (block quotes, list indentation) precede a line's own text.
function stripContainers(line) { return line.replace(/^(\s*>)*\s*/, ''); }

function closesFence(line, ch, len) {
  const m = /^(`+|~+)[ \t]*$/.exec(stripContainers(line));
  return m !== null && m[1][0] === ch && m[1].length >= len;
}

function looksLikeFence(line, ch, len) {
  const m = /^(`+|~+)/.exec(stripContainers(line));
  return m !== null && m[1][0] === ch && m[1].length >= len;
}

// Lines (1-based) of the source outside any fence, as a reader of the source sees them: any
// line that begins with three or more backticks or tildes opens a fence, or closes the open one
// when it has the same character, even with text after it (which CommonMark does not accept).
function linesOutsideFences(lines) {
  const outside = new Set();
  let fence = null;  // { ch, len } while inside a fence
  lines.forEach((line, i) => {
    const mark = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (mark && mark[1][0] === fence.ch && mark[1].length >= fence.len) fence = null;
      return;
    }
    if (mark) {
      fence = { ch: mark[1][0], len: mark[1].length };
      return;
    }
    outside.add(i + 1);
  });
  return outside;
}

function check(file) {
  const source = fs.readFileSync(file, 'utf8');
  const lines = source.split(/\r\n|\r|\n/);
  const doc = new commonmark.Parser().parse(source);
  const problems = [];
  const headingLines = new Set();

  const walker = doc.walker();
  let event;
  while ((event = walker.next())) {
    if (!event.entering) continue;
    const node = event.node;
    if (node.type === 'heading') headingLines.add(node.sourcepos[0][0]);
    if (node.type !== 'code_block' || !node._isFenced) continue;
    const [[start], [end]] = node.sourcepos;
    const ch = node._fenceChar;
    const len = node._fenceLength;
    if (end <= start || !closesFence(lines[end - 1] || '', ch, len)) {
      problems.push(`${file}:${start}: the code fence opened here is never closed ` +
                    `(the block runs on to line ${end}${end >= lines.length - 1 ? ', the end of the file' : ''})`);
    }
    for (let l = start + 1; l < end; ++l) {
      if (looksLikeFence(lines[l - 1], ch, len)) {
        problems.push(`${file}:${l}: a line inside the code block opened at line ${start} begins ` +
                      `like a closing fence but has text after it, so it closes nothing`);
      }
    }
  }

  const outside = linesOutsideFences(lines);
  lines.forEach((line, i) => {
    if (/^#{1,6}([ \t]|$)/.test(line) && outside.has(i + 1) && !headingLines.has(i + 1)) {
      problems.push(`${file}:${i + 1}: "${line.trim()}" does not render as a heading ` +
                    `(a block above it swallowed it)`);
    }
  });
  return problems;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node check-markdown.js FILE...');
  process.exit(2);
}
let failed = false;
for (const file of files) {
  const problems = check(file);
  for (const p of problems) console.error(p);
  if (problems.length) failed = true;
  else console.log(`${file}: renders as written`);
}
process.exit(failed ? 1 : 0);
