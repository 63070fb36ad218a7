// An ISO 8601 instant that Postgres's timestamptz also accepts: zod takes
// year 0000 and offsets past ±15:59, which the cast in SQL then refuses (a
// 500 where the caller deserved a 400 naming the field).
import { z } from "zod";

export const Instant = z.iso.datetime({ offset: true, abort: true }).refine(
  (v) => {
    const offset = /([+-])(\d{2}):?(\d{2})$/.exec(v);
    if (offset && Number(offset[2]) > 15) return false;
    return Number(v.slice(0, 4)) >= 1 && Number.isFinite(Date.parse(v));
  },
  {
    message:
      "must be between years 0001 and 9999, with an offset within ±15:59",
  },
);
