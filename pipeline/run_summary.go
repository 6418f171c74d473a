package pipeline

// RunSummary totals a run: how every input ended, actual against estimated
// tokens and cost, and failures by class. It is the `{"summary": …}` line
// of `vision run --json`.
type RunSummary struct {
	Items       int `json:"items"` // inputs after --shard
	OK          int `json:"ok"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Resumed     int `json:"resumed"`     // ok in the journal already: not sent again, no new record
	Interrupted int `json:"interrupted"` // stopped by cancellation (also counted as failed or skipped)
	Requests    int `json:"requests"`    // requests sent (or, in a dry run, written)
	Retries     int `json:"retries"`

	Usage     RecordUsage `json:"usage"` // actual, summed over the records of this run
	Cost      float64     `json:"cost"`  // actual
	Currency  string      `json:"currency,omitempty"`
	CostKnown bool        `json:"cost_known"`

	EstimatedInputTokens  int     `json:"estimated_input_tokens"` // of the items planned to send
	EstimatedOutputTokens int     `json:"estimated_output_tokens"`
	EstimatedCost         float64 `json:"estimated_cost"`

	FailuresByClass map[string]int `json:"failures_by_class"`

	Journal   string  `json:"journal,omitempty"`
	OutDir    string  `json:"out_dir,omitempty"`
	DryRun    bool    `json:"dry_run,omitempty"`
	DryRunDir string  `json:"dry_run_dir,omitempty"`
	Shard     string  `json:"shard,omitempty"`
	ElapsedS  float64 `json:"elapsed_s"`
}

// add counts one record written by this run.
func (s *RunSummary) add(r Record) {
	switch r.Status {
	case StatusOK:
		s.OK++
	case StatusFailed:
		s.Failed++
		s.FailuresByClass[r.ErrorClass]++
	case StatusSkipped:
		s.Skipped++
	}
	if r.Stage == StageInterrupted {
		s.Interrupted++
	}
	if u := r.Usage; u != nil {
		s.Usage.InputTokens += u.InputTokens
		s.Usage.OutputTokens += u.OutputTokens
		s.Usage.TextTokens += u.TextTokens
		s.Usage.ImageTokens += u.ImageTokens
		s.Usage.VideoTokens += u.VideoTokens
		s.Usage.ReasoningTokens += u.ReasoningTokens
		s.Usage.CachedTokens += u.CachedTokens
		if r.Cost != nil {
			s.Cost += *r.Cost
			if s.Currency == "" {
				s.Currency = r.Currency
			}
		} else {
			s.CostKnown = false
		}
	}
}
