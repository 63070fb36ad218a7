// The models /attribution/models lists and /attribution/compute accepts,
// with their parameters and defaults (GET /attribution/models answers this).
export type ModelInfo = {
  name: string;
  kind: "rule" | "data_driven";
  description: string;
  parameters: Record<string, string>;
};

const window =
  "window_days: touches up to this many days before a conversion (default: the organization's, 30)";

export const MODELS: ModelInfo[] = [
  {
    name: "first_touch",
    kind: "rule",
    description: "All credit to the first touch in the window.",
    parameters: { window_days: window },
  },
  {
    name: "last_touch",
    kind: "rule",
    description: "All credit to the last touch before the conversion.",
    parameters: { window_days: window },
  },
  {
    name: "last_non_direct",
    kind: "rule",
    description:
      "All credit to the last touch that is not 'direct' (the last touch when all are direct).",
    parameters: { window_days: window },
  },
  {
    name: "linear",
    kind: "rule",
    description: "Equal credit to every touch.",
    parameters: { window_days: window },
  },
  {
    name: "time_decay",
    kind: "rule",
    description:
      "Credit in proportion to 0.5^(age in days / half-life) of each touch before its conversion.",
    parameters: {
      window_days: window,
      half_life_days: "the half-life in days (default 7)",
    },
  },
  {
    name: "position_based",
    kind: "rule",
    description:
      "40% to the first touch, 40% to the last, 20% shared by the middle; one touch takes all, two take half each.",
    parameters: {
      window_days: window,
      first_share: "the first touch's share (default 0.4)",
      last_share: "the last touch's share (default 0.4)",
    },
  },
  {
    name: "markov",
    kind: "data_driven",
    description:
      "Removal effects on an absorbing Markov chain of converting and non-converting paths, solved exactly; consecutive repeats collapsed.",
    parameters: {
      window_days: window,
      order: "1, 2 or 3: states are the last k channels (default 1)",
      bootstrap_replicates:
        "resamples of the paths for the 95% interval of each share (default 100; 0: none)",
      seed: "the bootstrap's seed (default 1), so a run is reproducible",
    },
  },
  {
    name: "shapley",
    kind: "data_driven",
    description:
      "Simplified Shapley value (Zhao et al. 2018, as Ads Data Hub): each coalition's conversions shared equally by its channels.",
    parameters: {
      window_days: window,
      min_users:
        "channel sets with fewer journeys are dropped and reported (default 50, as Ads Data Hub)",
      bootstrap_replicates:
        "resamples of the paths for the 95% interval of each share (default 100; 0: none)",
      seed: "the bootstrap's seed (default 1), so a run is reproducible",
    },
  },
];

export const RULE_MODELS: ReadonlySet<string> = new Set(
  MODELS.filter((m) => m.kind === "rule").map((m) => m.name),
);
