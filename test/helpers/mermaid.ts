/**
 * Mermaid blocks in Markdown, checked two ways:
 *  - our rules (`chartProblems`): every xychart carries an `%%{init: …}%%` directive whose JSON
 *    sets `xyChart.plotColorPalette` with a colour per line, and a legend line under it naming
 *    each line by its colour; every line has a point per x label;
 *  - Mermaid's own parser (`mermaidParser`): `mermaid.parse` from the `mermaid` package's browser
 *    build, in a jsdom window (Mermaid sanitises text with DOMPurify, which needs a DOM). This is
 *    the parse Mermaid runs before drawing, so a syntax error there is one on GitHub too.
 */
import { CHART_COLOUR_NAMES } from '../../shared/report/markdown.ts';

export interface MermaidBlock {
  /** The diagram text between the fences. */
  readonly text: string;
  /** What follows the closing fence, up to the next blank-line-separated paragraph's end. */
  readonly after: string;
  readonly where: string;
}

/** The ```mermaid blocks of a Markdown text. */
export function mermaidBlocks(markdown: string, where: string): MermaidBlock[] {
  const out: MermaidBlock[] = [];
  for (const m of markdown.matchAll(/^```mermaid\n([\s\S]*?)\n```[ \t]*\n?((?:\n?[^\n]*){0,2})/gm)) {
    out.push({ text: m[1], after: m[2] ?? '', where });
  }
  return out;
}

/** What breaks our chart rules in one block (empty when it keeps them). */
export function chartProblems(b: MermaidBlock): string[] {
  const problems: string[] = [];
  const lines = b.text.split('\n');
  const body = lines.filter((l) => !l.startsWith('%%'));
  const kind = body[0]?.trim() ?? '';
  if (kind !== 'xychart-beta') return problems;
  const init = lines.find((l) => l.startsWith('%%{init:'));
  const series = body.filter((l) => /^\s*(line|bar)\s*\[/.test(l));
  if (!init)
    problems.push(`${b.where}: an xychart without an %%{init: …}%% palette (Mermaid's default draws the first line pale lavender)`);
  else {
    const json = /^%%\{init:\s*(.*)\}%%$/.exec(init)?.[1];
    let palette: string[] = [];
    try {
      const theme = JSON.parse(json ?? '') as { themeVariables?: { xyChart?: { plotColorPalette?: unknown } } };
      const p = theme.themeVariables?.xyChart?.plotColorPalette;
      if (typeof p !== 'string') problems.push(`${b.where}: the init directive sets no themeVariables.xyChart.plotColorPalette`);
      else palette = p.split(',').map((c) => c.trim());
    } catch (err) {
      problems.push(`${b.where}: the init directive is not JSON (${(err as Error).message})`);
    }
    for (const c of palette) if (!/^#[0-9a-f]{6}$/i.test(c)) problems.push(`${b.where}: palette colour '${c}' is not #rrggbb`);
    if (palette.length && palette.length < series.length)
      problems.push(`${b.where}: ${series.length} lines but ${palette.length} palette colours`);
  }
  const x = /^\s*x-axis\s*\[(.*)\]\s*$/m.exec(body.join('\n'));
  const xCount = x ? splitList(x[1]).length : undefined;
  for (const s of series) {
    const n = splitList(/\[(.*)\]/.exec(s)?.[1] ?? '').length;
    if (xCount !== undefined && n !== xCount) problems.push(`${b.where}: a line of ${n} points on an x-axis of ${xCount} labels`);
  }
  const legend = /<sub>(.*)<\/sub>/.exec(b.after)?.[1];
  if (series.length > 1 || legend !== undefined) {
    const named = (legend ?? '').split(' · ').map((part) => part.split(':')[0].trim());
    const want = CHART_COLOUR_NAMES.slice(0, series.length);
    if (named.join(',') !== want.join(','))
      problems.push(`${b.where}: the legend under the chart names [${named.join(', ')}], not one colour per line [${want.join(', ')}]`);
  }
  return problems;
}

/** Items of a Mermaid list `1, "a, b", 3`: commas inside quotes do not split. */
function splitList(text: string): string[] {
  const items = text.match(/"[^"]*"|[^,]+/g) ?? [];
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** The parts of jsdom and mermaid this uses (typed here: the packages are loaded by name at run time). */
interface JsdomModule {
  JSDOM: new (
    html: string,
    options?: { runScripts?: 'dangerously'; pretendToBeVisual?: boolean },
  ) => {
    window: {
      document: { createElement(tag: string): { textContent: string }; body: { appendChild(el: unknown): void } };
      mermaid?: Mermaid;
      close(): void;
    };
  };
}
interface Mermaid {
  initialize(config: Record<string, unknown>): void;
  parse(text: string): Promise<MermaidParse | false>;
}
/** What mermaid.parse returns: the diagram type it recognised and the config from the init directive. */
export interface MermaidParse {
  readonly diagramType: string;
  readonly config: Record<string, unknown>;
}

const NEEDS = 'the Mermaid syntax check needs the dev packages mermaid and jsdom (npm i -D mermaid jsdom)';

/**
 * Mermaid's parser: the package's own browser build (dist/mermaid.min.js) run in a jsdom window,
 * as a page would run it. Needs the dev packages `mermaid` and `jsdom`; without them this throws an
 * error that says so (the test then fails rather than passing unchecked).
 */
export async function mermaidParser(): Promise<(text: string) => Promise<MermaidParse>> {
  let jsdom: JsdomModule;
  let bundle: string;
  try {
    const jsdomPackage: string = 'jsdom'; // by name: its types need not be installed for the typecheck
    jsdom = (await import(jsdomPackage)) as JsdomModule;
    const { createRequire } = await import('node:module');
    const { readFile } = await import('node:fs/promises');
    bundle = await readFile(createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js'), 'utf8');
  } catch (err) {
    throw new Error(`${NEEDS}: ${(err as Error).message}`);
  }
  const { window } = new jsdom.JSDOM('<!doctype html><html><body></body></html>', { runScripts: 'dangerously', pretendToBeVisual: true });
  const script = window.document.createElement('script');
  script.textContent = bundle;
  window.document.body.appendChild(script);
  const mermaid = window.mermaid;
  if (!mermaid) throw new Error('mermaid/dist/mermaid.min.js did not define window.mermaid');
  mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
  return async (text: string) => {
    const r = await mermaid.parse(text);
    if (!r) throw new Error('mermaid.parse returned false');
    return r;
  };
}
