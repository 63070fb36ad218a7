import assert from "node:assert/strict";
import {
  parseSpendCsv,
  type RowError,
} from "../../supabase/functions/attribution/spend_csv.ts";

const csv = (...lines: string[]) => lines.join("\n") + "\n";

/** The errors as "line column rule", easy to compare whole. */
const brief = (errors: RowError[]) =>
  errors.map((e) => `${e.line} ${e.column} ${e.rule}`);

Deno.test("a Google Ads download: title lines, quoted values, -- nulls and Total rows", () => {
  const text = csv(
    "Campaign performance report",
    '"August 1, 2024 - August 2, 2024"',
    "Day,Campaign,Campaign status,Currency code,Cost,Impr.,Clicks,Avg. CPC",
    '2024-08-01,Brand - US,Enabled,USD,"1,234.56","12,345",678,1.82',
    '2024-08-01,"Generic, Shoes",Enabled,USD,89.10,"4,321",55,1.62',
    "2024-08-02,Brand - US,Paused,USD,0.00,--,--,--",
    'Total: Account,--,--,USD,"1,323.66","16,666",733,1.81',
    'Total: Search,--,--,USD,"1,323.66","16,666",733,1.81',
    'Total: Campaigns,--,--,USD,"1,323.66","16,666",733,1.81',
  );
  const parsed = parseSpendCsv(text);
  assert.equal(parsed.layout, "google_ads");
  assert.equal(parsed.defaultChannel, "paid_search");
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.rows, [
    {
      day: "2024-08-01",
      channel: "paid_search",
      campaign: "Brand - US",
      amount: 1234.56,
      currency: "USD",
      impressions: 12345,
      clicks: 678,
      line: 4,
    },
    {
      day: "2024-08-01",
      channel: "paid_search",
      campaign: "Generic, Shoes",
      amount: 89.1,
      currency: "USD",
      impressions: 4321,
      clicks: 55,
      line: 5,
    },
    {
      day: "2024-08-02",
      channel: "paid_search",
      campaign: "Brand - US",
      amount: 0,
      currency: "USD",
      impressions: null,
      clicks: null,
      line: 6,
    },
  ]);
});

Deno.test("Google Ads: the currency may come from the Cost header; Impressions and Date spellings", () => {
  const parsed = parseSpendCsv(csv(
    "date,CAMPAIGN,  Cost (gbp) ,Impressions,Clicks",
    "8/1/2024,Brand,$12.00,10,1",
    '"Aug 2, 2024",Brand,£3.5,,',
  ));
  assert.equal(parsed.layout, "google_ads");
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(
    parsed.rows.map((r) => [r.day, r.amount, r.currency, r.impressions]),
    [["2024-08-01", 12, "GBP", 10], ["2024-08-02", 3.5, "GBP", null]],
  );
});

Deno.test("a Meta Ads Manager export: summary row skipped, header currency, link clicks, one day per row", () => {
  const text = csv(
    "Reporting starts,Reporting ends,Campaign name,Campaign delivery,Amount spent (EUR),Impressions,Reach,Link clicks,Clicks (all)",
    "2024-08-01,2024-08-01,,,150.25,20000,15000,310,420",
    "2024-08-01,2024-08-01,Summer Sale,active,100.00,12000,9000,200,260",
    "2024-08-01,2024-08-01,Retargeting,active,50.25,8000,6000,,160",
    "2024-08-01,2024-08-31,Prospecting,inactive,900.00,90000,70000,1200,1500",
  );
  const parsed = parseSpendCsv(text);
  assert.equal(parsed.layout, "meta_ads");
  assert.equal(parsed.defaultChannel, "paid_social");
  assert.deepEqual(parsed.rows, [
    {
      day: "2024-08-01",
      channel: "paid_social",
      campaign: "Summer Sale",
      amount: 100,
      currency: "EUR",
      impressions: 12000,
      clicks: 200,
      line: 3,
    },
    {
      day: "2024-08-01",
      channel: "paid_social",
      campaign: "Retargeting",
      amount: 50.25,
      currency: "EUR",
      impressions: 8000,
      clicks: null,
      line: 4,
    },
  ]);
  assert.deepEqual(brief(parsed.errors), ["5 Reporting ends single_day"]);
});

Deno.test("Meta: a Day column wins over Reporting starts; Clicks (all) without Link clicks; a conflicting Currency", () => {
  const parsed = parseSpendCsv(csv(
    "Campaign name,Day,Amount spent (USD),Currency,Clicks (all)",
    "A,2024-08-01,1,USD,7",
    "B,2024-08-01,2,EUR,8",
    "C,2024-08-01,3,,9",
  ));
  assert.equal(parsed.layout, "meta_ads");
  assert.deepEqual(
    parsed.rows.map((r) => [r.campaign, r.currency, r.clicks]),
    [["A", "USD", 7], ["C", "USD", 9]],
  );
  assert.deepEqual(brief(parsed.errors), ["3 Currency currency_conflict"]);
});

Deno.test("the generic layout: any order and case, channel from the file, currency null without one", () => {
  const parsed = parseSpendCsv(csv(
    " Campaign ,DAY,Amount,Channel,Currency,Impressions,Clicks",
    "spring_launch,2024-08-01,10.5,Email,usd,100,4",
    "spring_launch,2024-08-02,11,,,,",
  ));
  assert.equal(parsed.layout, "generic");
  assert.equal(parsed.defaultChannel, null);
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(parsed.rows, [
    {
      day: "2024-08-01",
      channel: "email",
      campaign: "spring_launch",
      amount: 10.5,
      currency: "USD",
      impressions: 100,
      clicks: 4,
      line: 2,
    },
    {
      day: "2024-08-02",
      channel: null,
      campaign: "spring_launch",
      amount: 11,
      currency: null,
      impressions: null,
      clicks: null,
      line: 3,
    },
  ]);
});

Deno.test("bad rows are reported by line and column; the good rows around them are kept", () => {
  const text = csv(
    "day,channel,campaign,amount,currency,impressions,clicks",
    "2024-08-01,search,a,1,USD,10,1", // 2 good
    "2024-13-01,search,b,2,USD,10,1", // 3 bad day
    "2024-08-01,search,c,-2,USD,10,1.5", // 4 amount and clicks
    "2024-08-02,search,a,3,USD,,", // 5 good
    "2024-08-01,search,d,4,usd1,10,1", // 6 currency
    "2024-08-01,search,Shoes, Boots,5,USD,10,1", // 7 unquoted comma
    "", // 8 blank
    "2024-08-03,search,,6,USD,10,1", // 9 no campaign
    "2024-08-01,search,a,7,USD,10,1", // 10 duplicate of line 2
    "2024-08-04,search,e,$1,234.00,USD,10,1", // 11 unquoted thousands
    "2024-08-05,search,f,8,USD,10,1", // 12 good
  );
  const parsed = parseSpendCsv(text);
  assert.deepEqual(parsed.rows.map((r) => r.line), [2, 5, 12]);
  assert.deepEqual(brief(parsed.errors), [
    "3 day date_invalid",
    "4 amount non_negative",
    "4 clicks integer",
    "6 currency currency_format",
    "7 (row) column_count",
    "9 campaign required",
    "10 campaign duplicate",
    "11 (row) column_count",
  ]);
  const duplicate = parsed.errors.find((e) => e.rule === "duplicate")!;
  assert.match(duplicate.message, /line 2/);
});

Deno.test("amounts and counts: symbols, thousands, decimal commas, signs", () => {
  const cases: [string, number | string][] = [
    ["1,234.56", 1234.56],
    ["$1,234,567.8", 1234567.8],
    ["€ 12", 12],
    ["US$3.50", 3.5],
    ["0", 0],
    ["12,5", "number_format"],
    ["1,23", "number_format"],
    ["1e3", "number_format"],
    ["12.50 USD", "number_format"],
    ["-5", "non_negative"],
    ["$-5", "non_negative"],
    ["(5.00)", "non_negative"],
    ["--", "required"],
    ["9".repeat(400), "finite"],
  ];
  const text = csv(
    "day,campaign,amount",
    ...cases.map(([amount], i) =>
      `2024-08-01,c${i},"${amount.replaceAll('"', '""')}"`
    ),
  );
  const parsed = parseSpendCsv(text);
  const got = cases.map((_, i) => {
    const line = i + 2;
    const row = parsed.rows.find((r) => r.line === line);
    return row ? row.amount : parsed.errors.find((e) => e.line === line)?.rule;
  });
  assert.deepEqual(got, cases.map(([, want]) => want));

  const counts = parseSpendCsv(csv(
    "day,campaign,amount,impressions,clicks",
    '2024-08-01,a,1,"1,000",--',
    "2024-08-01,b,1,-3,$4",
    "2024-08-01,c,1,,1.0",
  ));
  assert.deepEqual(
    counts.rows.map((r) => [r.campaign, r.impressions, r.clicks]),
    [["a", 1000, null], ["c", null, 1]],
  );
  assert.deepEqual(brief(counts.errors), [
    "3 impressions non_negative",
    "3 clicks number_format",
  ]);
});

Deno.test("dates: the accepted forms", () => {
  const forms: [string, string][] = [
    ["2024-08-01", "2024-08-01"],
    ["2024/8/2", "2024-08-02"],
    ["8/3/2024", "2024-08-03"],
    ["03/04/2024", "2024-03-04"],
    ["Aug 4, 2024", "2024-08-04"],
    ["August 5 2024", "2024-08-05"],
    ["6 Aug 2024", "2024-08-06"],
    ["Wed, Aug 7, 2024", "2024-08-07"],
    ["Sept. 8, 2024", "2024-09-08"],
    ["2024-02-29", "2024-02-29"],
  ];
  const parsed = parseSpendCsv(csv(
    "day,campaign,amount",
    ...forms.map(([day]) => `"${day}",c,1`),
  ));
  assert.deepEqual(parsed.errors, []);
  assert.deepEqual(
    parsed.rows.map((r) => r.day),
    forms.map(([, want]) => want),
  );
});

Deno.test("dates: invalid, two-digit years and other forms are rejected with a rule", () => {
  const bad: [string, string][] = [
    ["2023-02-29", "date_invalid"],
    ["2024-13-01", "date_invalid"],
    ["13/45/2024", "date_invalid"],
    ["1999-12-31", "date_invalid"],
    ["Thu, Aug 7, 2024", "date_invalid"], // Aug 7, 2024 is a Wednesday
    ["8/9/24", "date_format"],
    ["01.08.2024", "date_format"],
    ["2024-08-01T00:00:00Z", "date_format"],
    ["yesterday", "date_format"],
    ["", "required"],
  ];
  const parsed = parseSpendCsv(csv(
    "day,campaign,amount",
    ...bad.map(([day], i) => `"${day}",c${i},1`),
  ));
  assert.deepEqual(parsed.rows, []);
  assert.deepEqual(
    parsed.errors.map((e) => [e.line, e.column, e.rule]),
    bad.map(([, rule], i) => [i + 2, "day", rule]),
  );
});

Deno.test("dates: a day-first date makes the file's both-ways slash dates ambiguous", () => {
  const parsed = parseSpendCsv(csv(
    "day,campaign,amount",
    "25/08/2024,a,1",
    "03/04/2024,b,1",
    "05/05/2024,c,1",
    "8/13/2024,d,1",
    "2024-08-01,e,1",
  ));
  assert.deepEqual(brief(parsed.errors), [
    "2 day date_day_first",
    "3 day date_ambiguous",
  ]);
  assert.deepEqual(
    parsed.rows.map((r) => r.day),
    ["2024-05-05", "2024-08-13", "2024-08-01"],
  );
});

Deno.test("a BOM is stripped, also before Google's title lines", () => {
  // Quoted, as spreadsheets write headers: the BOM must go before csv-parse.
  const generic = parseSpendCsv(
    '\uFEFF"day","campaign","amount"\n2024-08-01,a,1\n',
  );
  assert.equal(generic.layout, "generic");
  assert.deepEqual(generic.rows.map((r) => [r.campaign, r.line]), [["a", 2]]);

  const google = parseSpendCsv(
    "\uFEFFCampaign report\r\nAll time\r\nDay,Campaign,Cost\r\n2024-08-01,a,1\r\n",
  );
  assert.equal(google.layout, "google_ads");
  assert.deepEqual(google.rows.map((r) => [r.campaign, r.line]), [["a", 4]]);
});

Deno.test("quoted commas, quotes and multi-line fields keep later line numbers right (LF and CRLF)", () => {
  for (const eol of ["\n", "\r\n", "\r"]) {
    const text = [
      "day,campaign,amount",
      '2024-08-01,"Line one',
      'line two",5',
      '2024-08-02,"A, B ""quoted""",x',
      '2024-08-03, "C, D" ,7',
      "",
    ].join(eol);
    const parsed = parseSpendCsv(text);
    assert.deepEqual(
      parsed.rows.map((r) => [r.line, r.campaign]),
      [[2, "Line one\nline two"], [5, "C, D"]],
      JSON.stringify(eol),
    );
    assert.deepEqual(brief(parsed.errors), ["4 amount number_format"]);
  }
});

Deno.test("an unclosed quote is reported on its line and the rows after it are still read", () => {
  const parsed = parseSpendCsv(csv(
    "day,campaign,amount",
    "2024-08-01,a,1",
    '2024-08-02,"b,2',
    "2024-08-03,c,3",
    '2024-08-04,"d,4',
    "2024-08-05,e,5",
  ));
  assert.deepEqual(parsed.rows.map((r) => [r.line, r.campaign]), [
    [2, "a"],
    [4, "c"],
    [6, "e"],
  ]);
  // csv-parse pairs the quotes of lines 3 and 5 first: a bad_quote on line
  // 3; skipping it leaves line 5's quote unclosed.
  assert.deepEqual(brief(parsed.errors), [
    "3 (csv) bad_quote",
    "5 (csv) unclosed_quote",
  ]);
});

Deno.test("an unknown header is one error at line 1 naming the layouts; so is an empty file", () => {
  for (const text of ["foo,bar\n1,2\n", "", "\uFEFF\n\n"]) {
    const parsed = parseSpendCsv(text);
    assert.deepEqual(parsed.rows, []);
    assert.deepEqual(brief(parsed.errors), ["1 (header) known_layout"]);
    assert.match(parsed.errors[0].message, /Google Ads/);
    assert.match(parsed.errors[0].message, /Meta/);
    assert.match(
      parsed.errors[0].message,
      /day,channel,campaign,amount,currency,impressions,clicks/,
    );
  }
});

Deno.test("a tab-separated download (Google's 'Excel CSV') gets a hint", () => {
  const parsed = parseSpendCsv("Day\tCampaign\tCost\n2024-08-01\ta\t1\n");
  assert.deepEqual(brief(parsed.errors), ["1 (header) known_layout"]);
  assert.match(parsed.errors[0].message, /tab-separated/);
});

Deno.test("a header one required column short names the missing column", () => {
  const parsed = parseSpendCsv(csv(
    "Campaign report",
    "Day,Campaign,Impr.,Clicks",
    "2024-08-01,a,1,1",
  ));
  assert.deepEqual(parsed.rows, []);
  assert.deepEqual(brief(parsed.errors), ["2 Cost required_column"]);
  // A Cost in micros is not a Cost: no silent factor of a million.
  const micros = parseSpendCsv("Day,Campaign,Cost (micros)\n2024-08-01,a,1\n");
  assert.deepEqual(brief(micros.errors), ["1 Cost required_column"]);
});

Deno.test("more rows than maxRows: an error at the first row past the limit", () => {
  const text = csv(
    "Report",
    "Day,Campaign,Cost",
    "2024-08-01,a,1",
    "",
    "2024-08-02,a,1",
    "2024-08-03,a,1",
    "2024-08-04,a,1",
    "Total: Account,--,4",
  );
  const parsed = parseSpendCsv(text, { maxRows: 2 });
  assert.deepEqual(parsed.rows.map((r) => r.line), [3, 5]);
  assert.deepEqual(brief(parsed.errors), ["6 (file) max_rows"]);
  assert.equal(parseSpendCsv(text, { maxRows: 4 }).errors.length, 0);
  assert.throws(() => parseSpendCsv(text, { maxRows: 0 }), RangeError);
});

Deno.test("the default limit is 50,000 rows", () => {
  const lines = ["day,campaign,amount"];
  for (let i = 0; i < 50_001; i++) lines.push(`2024-08-01,c${i},1`);
  const parsed = parseSpendCsv(lines.join("\n"));
  assert.equal(parsed.rows.length, 50_000);
  assert.deepEqual(brief(parsed.errors), ["50002 (file) max_rows"]);
});
