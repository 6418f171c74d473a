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

	// Usage and Cost are what this run's requests used: pages and answers
	// reused from the journal were billed by the run that sent them.
	Usage     RecordUsage `json:"usage"`
	Cost      float64     `json:"cost"`
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
	ElapsedS  float64 `json:"elapsed_s"` // once confirmed: not planning, nor the time at the prompt
}

// count counts how one input ended, from its record.
func (s *RunSummary) count(r Record) {
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
}

// bill adds the usage and cost of one response this run received.
func (s *RunSummary) bill(u RecordUsage, cost *float64, currency string) {
	s.Usage.add(u)
	if cost == nil {
		s.CostKnown = false
		return
	}
	s.Cost += *cost
	if s.Currency == "" {
		s.Currency = currency
	}
}
