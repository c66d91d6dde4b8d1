/**
 * GitHub Actions expressions (`${{ … }}`), the part the workflows and action.yml files of this
 * repository use, evaluated as the runner does: contexts looked up case-insensitively, missing
 * properties are null, `||` and `&&` return an operand, `==` compares strings case-insensitively
 * and coerces mismatched types to numbers, null interpolates as ''. Anything else (an unknown
 * function or context, a syntax this does not know) throws, so the emulator never guesses.
 * (GitHub's own evaluator is the npm package @actions/expressions; this keeps to what we use.)
 */

export type Value = null | boolean | number | string | readonly Value[] | { readonly [k: string]: Value };

export interface Contexts {
  readonly [name: string]: Value;
}

export interface StatusFunctions {
  /** No earlier step (or needed job) failed. */
  readonly success: boolean;
  /** An earlier step (or needed job) failed. */
  readonly failure: boolean;
}

type Token = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'id'; v: string } | { t: 'op'; v: string } | { t: 'end' };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in expression: ${src}`);
        if (src[i] === "'" && src[i + 1] === "'") {
          s += "'";
          i += 2;
        } else if (src[i] === "'") {
          i++;
          break;
        } else s += src[i++];
      }
      out.push({ t: 'str', v: s });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?(0x[0-9a-f]+|\d+(\.\d+)?(e[+-]?\d+)?)/i.exec(src.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else {
      const two = src.slice(i, i + 2);
      if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
        out.push({ t: 'op', v: two });
        i += 2;
      } else if ('()[].,!<>*'.includes(c)) {
        out.push({ t: 'op', v: c });
        i++;
      } else throw new Error(`unexpected '${c}' in expression: ${src}`);
    }
  }
  out.push({ t: 'end' });
  return out;
}

function truthy(v: Value): boolean {
  if (v === null || v === false || v === 0 || v === '') return false;
  if (typeof v === 'number' && Number.isNaN(v)) return false;
  return true;
}

function toNumber(v: Value): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v);
  return NaN;
}

function equal(a: Value, b: Value): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() === b.toLowerCase();
  if (a === null && b === null) return true;
  if (typeof a === typeof b && typeof a !== 'object') return a === b;
  if (typeof a === 'object' || typeof b === 'object') return a === b;
  return toNumber(a) === toNumber(b);
}

/** A value as text, as the runner interpolates it. */
export function asString(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v, null, 2);
}

function property(obj: Value, key: string): Value {
  if (obj === null || typeof obj !== 'object') return null;
  if (Array.isArray(obj)) {
    const n = Number(key);
    return Number.isInteger(n) ? ((obj as readonly Value[])[n] ?? null) : null;
  }
  const rec = obj as { readonly [k: string]: Value };
  if (key in rec) return rec[key];
  const found = Object.keys(rec).find((k) => k.toLowerCase() === key.toLowerCase());
  return found !== undefined ? rec[found] : null;
}

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  private readonly ctx: Contexts;
  private readonly status: StatusFunctions;
  private readonly src: string;
  constructor(tokens: Token[], ctx: Contexts, status: StatusFunctions, src: string) {
    this.tokens = tokens;
    this.ctx = ctx;
    this.status = status;
    this.src = src;
  }

  parse(): Value {
    const v = this.or();
    if (this.peek().t !== 'end') throw new Error(`unexpected ${JSON.stringify(this.peek())} in expression: ${this.src}`);
    return v;
  }
  private peek(): Token {
    return this.tokens[this.pos];
  }
  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }
  private expect(v: string): void {
    if (!this.isOp(v)) throw new Error(`expected '${v}' in expression: ${this.src}`);
    this.pos++;
  }
  private or(): Value {
    let left = this.and();
    while (this.isOp('||')) {
      this.pos++;
      const right = this.and();
      left = truthy(left) ? left : right;
    }
    return left;
  }
  private and(): Value {
    let left = this.cmp();
    while (this.isOp('&&')) {
      this.pos++;
      const right = this.cmp();
      left = truthy(left) ? right : left;
    }
    return left;
  }
  private cmp(): Value {
    const left = this.unary();
    const t = this.peek();
    if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      this.pos++;
      const right = this.unary();
      switch (t.v) {
        case '==':
          return equal(left, right);
        case '!=':
          return !equal(left, right);
        case '<':
          return toNumber(left) < toNumber(right);
        case '<=':
          return toNumber(left) <= toNumber(right);
        case '>':
          return toNumber(left) > toNumber(right);
        default:
          return toNumber(left) >= toNumber(right);
      }
    }
    return left;
  }
  private unary(): Value {
    if (this.isOp('!')) {
      this.pos++;
      return !truthy(this.unary());
    }
    return this.postfix(this.primary());
  }
  private postfix(base: Value): Value {
    let v = base;
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const t = this.peek();
        if (t.t !== 'id') throw new Error(`expected a property name in expression: ${this.src}`);
        this.pos++;
        v = property(v, t.v);
      } else if (this.isOp('[')) {
        this.pos++;
        const key = this.or();
        this.expect(']');
        v = property(v, asString(key));
      } else return v;
    }
  }
  private primary(): Value {
    const t = this.peek();
    this.pos++;
    if (t.t === 'str' || t.t === 'num') return t.v;
    if (t.t === 'op' && t.v === '(') {
      const v = this.or();
      this.expect(')');
      return v;
    }
    if (t.t === 'id') {
      const lower = t.v.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      if (lower === 'null') return null;
      if (this.isOp('(')) return this.call(lower);
      const found = Object.keys(this.ctx).find((k) => k.toLowerCase() === lower);
      if (found === undefined) throw new Error(`unknown context '${t.v}' in expression: ${this.src}`);
      return this.ctx[found];
    }
    throw new Error(`unexpected ${JSON.stringify(t)} in expression: ${this.src}`);
  }
  private call(name: string): Value {
    this.expect('(');
    const args: Value[] = [];
    while (!this.isOp(')')) {
      args.push(this.or());
      if (this.isOp(',')) this.pos++;
      else break;
    }
    this.expect(')');
    switch (name) {
      case 'success':
        return this.status.success;
      case 'failure':
        return this.status.failure;
      case 'always':
        return true;
      case 'cancelled':
        return false;
      case 'contains': {
        const [hay, needle] = args;
        if (Array.isArray(hay)) return (hay as readonly Value[]).some((x) => equal(x, needle ?? null));
        return asString(hay ?? null)
          .toLowerCase()
          .includes(asString(needle ?? null).toLowerCase());
      }
      case 'startswith':
        return asString(args[0] ?? null)
          .toLowerCase()
          .startsWith(asString(args[1] ?? null).toLowerCase());
      case 'endswith':
        return asString(args[0] ?? null)
          .toLowerCase()
          .endsWith(asString(args[1] ?? null).toLowerCase());
      case 'format':
        return asString(args[0] ?? null).replace(/\{(\d+)\}/g, (_, i: string) => asString(args[Number(i) + 1] ?? null));
      case 'tojson':
        return JSON.stringify(args[0] ?? null, null, 2);
      case 'fromjson':
        return JSON.parse(asString(args[0] ?? null)) as Value;
      default:
        throw new Error(`the emulator does not know the function ${name}() (expression: ${this.src})`);
    }
  }
}

/** Evaluates one expression (the text inside `${{ }}`, or an `if:` condition). */
export function evaluate(expr: string, ctx: Contexts, status: StatusFunctions = { success: true, failure: false }): Value {
  return new Parser(tokenize(expr), ctx, status, expr).parse();
}

/** Replaces every `${{ … }}` in a string with its value as text. */
export function interpolate(text: string, ctx: Contexts, status?: StatusFunctions): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, expr: string) => asString(evaluate(expr, ctx, status)));
}

/**
 * An `if:` condition: with or without `${{ }}`; a condition that calls no status function is
 * `success() && (condition)`, as the runner reads it.
 */
export function condition(text: string | boolean | undefined, ctx: Contexts, status: StatusFunctions): boolean {
  if (text === undefined) return status.success;
  if (typeof text === 'boolean') return text && status.success;
  const m = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text);
  const expr = m ? m[1] : text;
  const v = truthy(evaluate(expr, ctx, status));
  return /\b(success|failure|always|cancelled)\s*\(/.test(expr) ? v : v && status.success;
}
