// Ad spend CSV uploads (POST /attribution/spend): recognise the layout, read
// every row, and return the good rows plus one error per bad cell, so a
// single bad row never costs the rest. Pure: no I/O; the handler upserts
// `rows` with upsert_ad_spend and reports `errors` ({line, column, rule,
// message}, the same field/rule/message idea as _shared/errors.ts).
//
// Stages: readRecords (csv-parse; the CSV codec, never a hand split) →
// findHeader (layout by column names) → readRow (one record → row or errors)
// → duplicates (one row per day and campaign, the table's key).
//
// LAYOUTS. Header names match case-insensitively, trimmed, inner whitespace
// collapsed; a UTF-8 BOM is stripped; columns may come in any order and other
// columns are ignored. The header is the first record (among the first 10) that
// names a layout's required columns (*); records before it are skipped, as
// Google Ads puts a report title and a date range above its header.
//   google_ads (Google Ads report/campaign download) → channel "paid_search":
//     *"Day" | "Date"; *"Campaign"; *"Cost" | "Cost (XXX)";
//     "Currency code" | "Currency"; "Impr." | "Impressions"; "Clicks".
//     Summary rows ("Total: Account", "Total: Campaigns", "Total", ...) are
//     skipped: the first cell or the day starts with "Total", or the campaign
//     does while the day is empty or "--".
//   meta_ads (Meta Ads Manager export, broken down by day) → "paid_social":
//     *"Day" | "Reporting starts" (and "Reporting ends", which must be the
//     same day: a row covering a range is rejected, rule "single_day");
//     *"Campaign name"; *"Amount spent (XXX)" | "Amount spent"; "Currency";
//     "Impressions"; "Link clicks" | "Clicks (all)" (link clicks preferred).
//     The optional summary row (the first data row, with no campaign name)
//     is skipped.
//   generic: *day, channel, *campaign, *amount, currency, impressions, clicks.
//     channel is lowercased; an empty one is null.
// "XXX" is a 3-letter currency code in the header, used for rows whose own
// currency cell is absent or empty.
//
// VALUES (a row with any bad cell is left out and each bad cell reported):
// - day: YYYY-MM-DD or YYYY/MM/DD; M/D/YYYY (US order, as Google and Meta
//   write in English); "Aug 1, 2024" / "August 1, 2024" / "1 Aug 2024",
//   optionally after a weekday ("Thu, Aug 1, 2024", which must agree). Years
//   2000–2100. Rejected: two-digit years, D.M.YYYY, times ("date_format");
//   impossible dates ("date_invalid"); D/M/YYYY with the day over 12
//   ("date_day_first"); and, once a file shows such a day-first date, every
//   slash date that reads both ways, e.g. 03/04/2024 ("date_ambiguous").
// - amount: required, finite, ≥ 0; "1,234.56" (comma thousands in groups of
//   three), an optional leading currency symbol ("$", "€", "US$").
//   No decimal commas ("12,5" is "number_format").
// - impressions, clicks: whole numbers ≥ 0 in the same notation without a
//   symbol; empty or "--" is null.
// - currency: a 3-letter ISO code (uppercased), else from the amount header,
//   else null — null means the caller uses the organization's base currency.
// - campaign: required, at most 200 characters, as exported (the caller
//   resolves it to a campaign by key or name); channel at most 50.
// - a row with more cells than the header is rejected whole
//   ("column_count": usually an unquoted comma); missing trailing cells are
//   empty.
// - the same day and campaign twice ("duplicate", the later line): the
//   upsert key is (org, day, campaign, source), so a segmented export (by
//   device, network, ...) must be exported without the segment.
//
// LINES are the 1-based physical lines an editor shows (CRLF and lone CR are
// line breaks), the first line of a record that spans several lines. A CSV
// syntax error (an unclosed or stray quote) is reported on the line where its
// record starts; that line is skipped and reading resumes on the next one (at
// most 20 times). Two stray quotes pair up, so the lines between them are
// read again after the first one is skipped.
// Rules outside rows: "known_layout" (line 1, column "(header)"),
// "required_column" (header line), "max_rows" (line of the first row past the
// limit, column "(file)"; rows before it are kept, the rest not read),
// "unclosed_quote", "bad_quote" and "csv_syntax" (column "(csv)").
import { parse } from "csv-parse/sync";

export type SpendRow = {
  /** YYYY-MM-DD */
  day: string;
  /** The file's channel (generic layout), else the layout's default; null when neither. */
  channel: string | null;
  /** Campaign key or name as in the export. */
  campaign: string;
  amount: number;
  /** ISO 4217; null: the organization's base currency. */
  currency: string | null;
  impressions: number | null;
  clicks: number | null;
  line: number;
};

export type RowError = {
  line: number;
  column: string;
  rule: string;
  message: string;
};

export type ParsedSpend = {
  layout: "google_ads" | "meta_ads" | "generic";
  rows: SpendRow[];
  errors: RowError[];
  defaultChannel: string | null;
};

export const DEFAULT_MAX_ROWS = 50_000;

const HEADER_SCAN_RECORDS = 10;
const MAX_SYNTAX_RESUMES = 20;
const MAX_CAMPAIGN_LENGTH = 200;
const MAX_CHANNEL_LENGTH = 50;

export function parseSpendCsv(
  text: string,
  opts: { maxRows?: number } = {},
): ParsedSpend {
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  if (!Number.isInteger(maxRows) || maxRows < 1) {
    throw new RangeError("maxRows must be a positive integer");
  }
  const events = readRecords(text);
  const found = findHeader(events);
  if ("errors" in found) {
    const syntax = events.flatMap((e) => e.kind === "error" ? [e.error] : []);
    return {
      layout: "generic",
      rows: [],
      errors: [...found.errors, ...syntax].sort((a, b) => a.line - b.line),
      defaultChannel: null,
    };
  }
  const { spec, columns, headerAt, headerLength } = found;
  const after = events.slice(headerAt + 1);
  const dayFirstSeen = after.some((e) =>
    e.kind === "record" && isDayFirst(cell(e.cells, columns.day))
  );

  const rows: SpendRow[] = [];
  // Syntax errors above the header (a broken title line) still count.
  const errors: RowError[] = events.slice(0, headerAt).flatMap((e) =>
    e.kind === "error" ? [e.error] : []
  );
  const seen = new Map<string, number>();
  let dataRows = 0;
  for (const event of after) {
    if (event.kind === "error") {
      errors.push(event.error);
      continue;
    }
    const { cells, line } = event;
    if (cells.every((c) => c.trim() === "")) continue;
    if (spec.layout === "google_ads" && isGoogleTotal(cells, columns)) {
      continue;
    }
    if (
      spec.layout === "meta_ads" && dataRows === 0 &&
      cell(cells, columns.campaign) === ""
    ) continue; // Meta's summary row
    dataRows++;
    if (dataRows > maxRows) {
      errors.push({
        line,
        column: "(file)",
        rule: "max_rows",
        message:
          `more than ${maxRows} rows; split the file (rows from this line on were not read)`,
      });
      break;
    }
    const result = readRow(cells, line, spec, columns, headerLength, {
      dayFirstSeen,
    });
    if ("errors" in result) {
      errors.push(...result.errors);
      continue;
    }
    const key = `${result.row.day}\u0000${result.row.campaign}`;
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({
        line,
        column: columns.campaign!.name,
        rule: "duplicate",
        message:
          `${result.row.campaign} on ${result.row.day} is already on line ${first}; ` +
          "export one row per campaign and day (without segments)",
      });
      continue;
    }
    seen.set(key, line);
    rows.push(result.row);
  }
  return {
    layout: spec.layout,
    rows,
    errors,
    defaultChannel: spec.defaultChannel,
  };
}

// ---------------------------------------------------------------------------
// RECORDS

type ReadEvent =
  | { kind: "record"; cells: string[]; line: number }
  | { kind: "error"; error: RowError };

/** Every record with the line it starts on, and syntax errors in between. */
function readRecords(input: string): ReadEvent[] {
  // Editors count CRLF as one line and csv-parse counts the CR and the LF of
  // a quoted field's CRLF as two, so line ends are made LF first (inside a
  // quoted field too, where CRLF and LF mean the same to us).
  const text = input.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  const events: ReadEvent[] = [];
  let offset = 0;
  let lineBase = 0; // lines before `offset`
  for (let resumes = 0;; resumes++) {
    // The last line of the previous record, written from csv-parse's callback.
    const at = { lastEnd: lineBase };
    try {
      parse(text.slice(offset), {
        relax_quotes: true,
        relax_column_count: true,
        trim: true,
        on_record: (record: string[], context) => {
          events.push({ kind: "record", cells: record, line: at.lastEnd + 1 });
          at.lastEnd = lineBase + context.lines;
          return null; // collected here; nothing to return
        },
      });
      return events;
    } catch (err) {
      // csv-parse stops at the first error: report it on the line where the
      // broken record starts, skip that line, and read on from the next one.
      const start = at.lastEnd + 1;
      events.push({ kind: "error", error: syntaxError(start, err) });
      if (resumes >= MAX_SYNTAX_RESUMES) {
        events.push({
          kind: "error",
          error: {
            line: start,
            column: "(csv)",
            rule: "csv_syntax",
            message: "too many CSV errors; the rest of the file was not read",
          },
        });
        return events;
      }
      let next = offset;
      for (let n = lineBase; n < start && next !== -1; n++) {
        next = text.indexOf("\n", next);
        if (next !== -1) next++;
      }
      if (next === -1 || next >= text.length) return events;
      offset = next;
      lineBase = start;
    }
  }
}

const QUOTE_ERRORS = new Set([
  "CSV_INVALID_CLOSING_QUOTE",
  "CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE",
  "INVALID_OPENING_QUOTE",
]);

function syntaxError(line: number, err: unknown): RowError {
  const code = (err as { code?: unknown } | null)?.code;
  const skipped = "; the line was skipped";
  if (code === "CSV_QUOTE_NOT_CLOSED") {
    return {
      line,
      column: "(csv)",
      rule: "unclosed_quote",
      message: `a quoted field starting on this line is never closed${skipped}`,
    };
  }
  if (typeof code === "string" && QUOTE_ERRORS.has(code)) {
    return {
      line,
      column: "(csv)",
      rule: "bad_quote",
      message:
        `a quoted field starting on this line does not end where it should (a stray or unclosed quote)${skipped}`,
    };
  }
  // Not a CSV error (csv-parse's own bug?): the message says what it was.
  const message = err instanceof Error ? err.message : String(err);
  return {
    line,
    column: "(csv)",
    rule: "csv_syntax",
    message: `${message}${skipped}`,
  };
}

// ---------------------------------------------------------------------------
// LAYOUTS

type Field =
  | "day"
  | "dayEnd"
  | "channel"
  | "campaign"
  | "amount"
  | "currency"
  | "impressions"
  | "clicks";

/** A header name, or a pattern whose first group is a currency code. */
type Matcher = string | RegExp;

type LayoutSpec = {
  layout: ParsedSpend["layout"];
  defaultChannel: string | null;
  /** Names per field, preferred first. */
  names: Partial<Record<Field, Matcher[]>>;
  /** How a missing required column is named in the error. */
  required: Partial<Record<Field, string>>;
};

const LAYOUTS: LayoutSpec[] = [
  {
    layout: "meta_ads",
    defaultChannel: "paid_social",
    names: {
      day: ["day", "reporting starts"],
      dayEnd: ["reporting ends"],
      campaign: ["campaign name"],
      amount: [/^amount spent(?: \(([a-z]{3})\))?$/],
      currency: ["currency"],
      impressions: ["impressions"],
      clicks: ["link clicks", "clicks (all)"],
    },
    required: {
      day: "Day",
      campaign: "Campaign name",
      amount: "Amount spent",
    },
  },
  {
    layout: "google_ads",
    defaultChannel: "paid_search",
    names: {
      day: ["day", "date"],
      campaign: ["campaign"],
      amount: [/^cost(?: \(([a-z]{3})\))?$/],
      currency: ["currency code", "currency"],
      impressions: ["impr.", "impressions"],
      clicks: ["clicks"],
    },
    required: { day: "Day", campaign: "Campaign", amount: "Cost" },
  },
  {
    layout: "generic",
    defaultChannel: null,
    names: {
      day: ["day"],
      channel: ["channel"],
      campaign: ["campaign"],
      amount: ["amount"],
      currency: ["currency"],
      impressions: ["impressions"],
      clicks: ["clicks"],
    },
    required: { day: "day", campaign: "campaign", amount: "amount" },
  },
];

const LAYOUT_HELP = "Google Ads (Day, Campaign, Cost), " +
  "Meta Ads Manager (Day or Reporting starts, Campaign name, Amount spent) " +
  "or day,channel,campaign,amount,currency,impressions,clicks";

type Column = { index: number; name: string; currency: string | null };
type Columns = Partial<Record<Field, Column>>;

function normalizeHeader(name: string): string {
  return name.trim().replace(/\s+/g, " ").toLowerCase();
}

function matchColumns(header: string[], spec: LayoutSpec): Columns {
  const normalized = header.map(normalizeHeader);
  const columns: Columns = {};
  for (const [field, matchers] of Object.entries(spec.names)) {
    for (const matcher of matchers) {
      const index = normalized.findIndex((h) =>
        typeof matcher === "string" ? h === matcher : matcher.test(h)
      );
      if (index === -1) continue;
      const code = typeof matcher === "string"
        ? undefined
        : matcher.exec(normalized[index])?.[1];
      columns[field as Field] = {
        index,
        name: header[index].trim(),
        currency: code ? code.toUpperCase() : null,
      };
      break;
    }
  }
  return columns;
}

type Header = {
  spec: LayoutSpec;
  columns: Columns;
  headerAt: number;
  headerLength: number;
};

function findHeader(events: ReadEvent[]): Header | { errors: RowError[] } {
  let partial: { line: number; missing: string[] } | null = null;
  let scanned = 0;
  let anyText = false;
  let tabs = false;
  for (let i = 0; i < events.length && scanned < HEADER_SCAN_RECORDS; i++) {
    const event = events[i];
    if (event.kind === "error") continue;
    scanned++;
    if (event.cells.some((c) => c.trim() !== "")) anyText = true;
    if (event.cells.some((c) => c.includes("\t"))) tabs = true;
    for (const spec of LAYOUTS) {
      const columns = matchColumns(event.cells, spec);
      const missing = Object.entries(spec.required)
        .filter(([field]) => !columns[field as Field])
        .map(([, name]) => name);
      if (missing.length === 0) {
        return {
          spec,
          columns,
          headerAt: i,
          headerLength: event.cells.length,
        };
      }
      if (missing.length === 1 && partial === null) {
        partial = { line: event.line, missing };
      }
    }
  }
  if (partial) {
    return {
      errors: partial.missing.map((name) => ({
        line: partial.line,
        column: name,
        rule: "required_column",
        message:
          `the header has no "${name}" column (accepted layouts: ${LAYOUT_HELP})`,
      })),
    };
  }
  return {
    errors: [{
      line: 1,
      column: "(header)",
      rule: "known_layout",
      message:
        (anyText ? "no recognised header row; " : "the file is empty; ") +
        `expected ${LAYOUT_HELP}` +
        (tabs
          ? " (this file looks tab-separated: download as plain CSV, not Excel CSV)"
          : ""),
    }],
  };
}

function cell(cells: string[], column: Column | undefined): string {
  return column ? (cells[column.index] ?? "").trim() : "";
}

function isGoogleTotal(cells: string[], columns: Columns): boolean {
  const total = /^total\b/i;
  const day = cell(cells, columns.day);
  if (total.test((cells[0] ?? "").trim()) || total.test(day)) return true;
  return total.test(cell(cells, columns.campaign)) &&
    (day === "" || day === "--");
}

// ---------------------------------------------------------------------------
// ROWS

type Problem = { rule: string; message: string };

function readRow(
  cells: string[],
  line: number,
  spec: LayoutSpec,
  columns: Columns,
  headerLength: number,
  ctx: { dayFirstSeen: boolean },
): { row: SpendRow } | { errors: RowError[] } {
  // Even empty extra cells: "a,Shoes, Boots,5," shifts values by one and
  // might otherwise read as a row.
  if (cells.length > headerLength) {
    return {
      errors: [{
        line,
        column: "(row)",
        rule: "column_count",
        message:
          `${cells.length} cells for ${headerLength} columns; quote values that contain commas`,
      }],
    };
  }
  const errors: RowError[] = [];
  const fail = (column: Column | undefined, p: Problem) =>
    errors.push({ line, column: column?.name ?? "(row)", ...p });
  const take = <T>(
    column: Column | undefined,
    result: T | Problem,
  ): T | undefined => {
    if (isProblem(result)) {
      fail(column, result);
      return undefined;
    }
    return result;
  };

  // DAY
  const day = take(
    columns.day,
    parseDay(cell(cells, columns.day), ctx.dayFirstSeen),
  );
  if (day !== undefined && columns.dayEnd) {
    const endText = cell(cells, columns.dayEnd);
    const end = take(columns.dayEnd, parseDay(endText, ctx.dayFirstSeen));
    if (end !== undefined && end !== day) {
      fail(columns.dayEnd, {
        rule: "single_day",
        message:
          `the row covers ${day} to ${end}; export with a daily breakdown (By time: Day)`,
      });
    }
  }

  // CAMPAIGN AND CHANNEL
  const campaign = cell(cells, columns.campaign);
  if (campaign === "") {
    fail(columns.campaign, { rule: "required", message: "campaign is empty" });
  } else if (campaign.length > MAX_CAMPAIGN_LENGTH) {
    fail(columns.campaign, {
      rule: "max_length",
      message: `campaign is longer than ${MAX_CAMPAIGN_LENGTH} characters`,
    });
  }
  let channel = spec.defaultChannel;
  if (columns.channel) {
    const own = cell(cells, columns.channel).toLowerCase();
    if (own.length > MAX_CHANNEL_LENGTH) {
      fail(columns.channel, {
        rule: "max_length",
        message: `channel is longer than ${MAX_CHANNEL_LENGTH} characters`,
      });
    } else if (own !== "") channel = own;
  }

  // AMOUNT AND CURRENCY
  const amountText = cell(cells, columns.amount);
  const amount = take(
    columns.amount,
    amountText === "" || amountText === "--"
      ? { rule: "required", message: "amount is empty" }
      : parseAmount(amountText),
  );
  const currency = take(
    columns.currency ?? columns.amount,
    parseCurrency(cell(cells, columns.currency), columns.amount?.currency),
  );

  // COUNTS
  const impressions = take(
    columns.impressions,
    parseCount(cell(cells, columns.impressions)),
  );
  const clicks = take(columns.clicks, parseCount(cell(cells, columns.clicks)));

  if (errors.length > 0) return { errors };
  return {
    row: {
      day: day!,
      channel,
      campaign,
      amount: amount!,
      currency: currency ?? null,
      impressions: impressions ?? null,
      clicks: clicks ?? null,
      line,
    },
  };
}

function isProblem(value: unknown): value is Problem {
  return typeof value === "object" && value !== null && "rule" in value;
}

function show(value: string): string {
  return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
}

// ---------------------------------------------------------------------------
// NUMBERS

// Digits with optional comma thousands (groups of three) and decimals.
const DIGITS = /^(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?$/;
// An optional sign and leading currency symbol, in either order: "$-5", "-US$5".
const SIGN_AND_SYMBOL =
  /^(?:(-)\s*)?(?:[A-Za-z]{0,3}\p{Sc}\s*)?(?:(-)\s*)?(?<rest>.*)$/u;

function parseAmount(text: string): number | Problem {
  let body = text;
  let negative = false;
  const parens = /^\((.*)\)$/.exec(body); // accounting negative: (5.00)
  if (parens) {
    negative = true;
    body = parens[1].trim();
  }
  const m = SIGN_AND_SYMBOL.exec(body)!;
  negative ||= Boolean(m[1] || m[2]);
  const digits = DIGITS.exec(m.groups!.rest);
  if (!digits) {
    return {
      rule: "number_format",
      message: `${show(text)} is not an amount like 1234.56 or 1,234.56`,
    };
  }
  const value = Number(digits[1].replaceAll(",", "") + (digits[2] ?? ""));
  if (!Number.isFinite(value)) {
    return { rule: "finite", message: `${show(text)} is too large` };
  }
  if (negative && value !== 0) {
    return { rule: "non_negative", message: `${show(text)} is negative` };
  }
  return value;
}

function parseCount(text: string): number | null | Problem {
  if (text === "" || text === "--") return null;
  const negative = /^-\s*(.*)$/.exec(text);
  const digits = DIGITS.exec(negative ? negative[1] : text);
  if (!digits) {
    return {
      rule: "number_format",
      message: `${show(text)} is not a whole number like 1234 or 1,234`,
    };
  }
  const value = Number(digits[1].replaceAll(",", "") + (digits[2] ?? ""));
  if (!Number.isSafeInteger(value)) {
    return { rule: "integer", message: `${show(text)} is not a whole number` };
  }
  if (negative && value !== 0) {
    return { rule: "non_negative", message: `${show(text)} is negative` };
  }
  return value;
}

function parseCurrency(
  text: string,
  fromHeader: string | null | undefined,
): string | null | Problem {
  if (text === "") return fromHeader ?? null;
  const code = text.toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) {
    return {
      rule: "currency_format",
      message: `${show(text)} is not a 3-letter currency code like USD`,
    };
  }
  if (fromHeader && fromHeader !== code) {
    return {
      rule: "currency_conflict",
      message:
        `${code} differs from ${fromHeader} in the amount column's header`,
    };
  }
  return code;
}

// ---------------------------------------------------------------------------
// DATES

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const WEEKDAYS = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
];

/** Index (0-based) of a full or 3-letter name ("sept" too), else -1. */
function nameIndex(names: string[], word: string): number {
  const w = word.toLowerCase().replace(/\.$/, "");
  return names.findIndex((n) =>
    n === w || n.slice(0, 3) === w || (n === "september" && w === "sept")
  );
}

const ISO = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/;
const SLASH = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const SHORT_YEAR = /^\d{1,2}[-/.]\d{1,2}[-/.]\d{2}$/;
const WEEKDAY = String.raw`(?:([a-z]+)\.?,?\s+)?`;
const MONTH_FIRST = new RegExp(
  String.raw`^${WEEKDAY}([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$`,
  "i",
);
const DAY_FIRST = new RegExp(
  String.raw`^${WEEKDAY}(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})$`,
  "i",
);

/** A slash date that can only be D/M/YYYY (the first part is over 12). */
function isDayFirst(text: string): boolean {
  const m = SLASH.exec(text);
  return m !== null && Number(m[1]) > 12 && Number(m[2]) <= 12;
}

function parseDay(text: string, dayFirstSeen: boolean): string | Problem {
  if (text === "") return { rule: "required", message: "day is empty" };
  const accepted = "use YYYY-MM-DD, M/D/YYYY or Aug 1, 2024";
  let m = ISO.exec(text);
  if (m) return calendarDay(text, +m[1], +m[2], +m[3]);
  m = SLASH.exec(text);
  if (m) {
    const [a, b] = [+m[1], +m[2]];
    if (isDayFirst(text)) {
      return {
        rule: "date_day_first",
        message: `${
          show(text)
        } is day-first (D/M/YYYY); slash dates are read as M/D/YYYY; ${accepted}`,
      };
    }
    if (dayFirstSeen && a <= 12 && b <= 12 && a !== b) {
      return {
        rule: "date_ambiguous",
        message: `${
          show(text)
        } could be M/D or D/M (the file has day-first dates); ${accepted}`,
      };
    }
    return calendarDay(text, +m[3], a, b);
  }
  m = MONTH_FIRST.exec(text);
  if (m && nameIndex(MONTHS, m[2]) !== -1) {
    return calendarDay(text, +m[4], nameIndex(MONTHS, m[2]) + 1, +m[3], m[1]);
  }
  m = DAY_FIRST.exec(text);
  if (m && nameIndex(MONTHS, m[3]) !== -1) {
    return calendarDay(text, +m[4], nameIndex(MONTHS, m[3]) + 1, +m[2], m[1]);
  }
  return {
    rule: "date_format",
    message: SHORT_YEAR.test(text)
      ? `${show(text)} has a two-digit year; ${accepted}`
      : `${show(text)} is not a date; ${accepted}`,
  };
}

function calendarDay(
  text: string,
  year: number,
  month: number,
  day: number,
  weekday?: string,
): string | Problem {
  const date = new Date(Date.UTC(year, month - 1, day));
  const valid = year >= 2000 && year <= 2100 &&
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day;
  if (!valid) {
    return {
      rule: "date_invalid",
      message: `${show(text)} is not a calendar date between 2000 and 2100`,
    };
  }
  if (weekday !== undefined) {
    const index = nameIndex(WEEKDAYS, weekday);
    if (index !== date.getUTCDay()) {
      return {
        rule: "date_invalid",
        message: `${show(text)}: the weekday does not match the date`,
      };
    }
  }
  return date.toISOString().slice(0, 10);
}
