package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/qwen-vision/vision/media"
	"github.com/qwen-vision/vision/tokens"
)

// PDFs are sent page by page, whatever the preset (except video-events,
// which takes videos only): each page is rendered with pdftoppm at the
// resolution that lands it within the image pixel bounds (the ocr preset's
// 512–2048 tokens of 32×32 px, or the model's defaults), sent as one
// request, and the answers are merged in page order. A PDF is one item and
// one record (its page_results list each page's request and usage). Each
// page is kept in the page journal as soon as it is answered
// (journal_pages.go); if a page fails, or the run is interrupted or
// killed, the item is recorded failed (or not at all) and a resumed run
// sends only the pages not kept.

// pdfPlan is the per-page plan of one PDF.
type pdfPlan struct {
	dpi   []float64
	plans []tokens.ImagePlan
	cost  []*float64         // estimated cost per page (nil: unknown)
	done  map[int]PageRecord // pages answered before, by page from 1
}

func (p *pdfPlan) pages() int { return len(p.dpi) }

// totals sets the item's requests, tokens and cost from the pages still
// to send.
func (p *pdfPlan) totals(cfg Config, it *runItem) {
	it.reqs, it.inTok, it.outTok, it.cost = 0, 0, 0, nil
	sum, known := 0.0, true
	for i := range p.dpi {
		if _, ok := p.done[i+1]; ok {
			continue
		}
		it.reqs++
		it.inTok += p.plans[i].InputTokens + PromptTokens(cfg.Prompt)
		it.outTok += cfg.OutputTokens
		if p.cost[i] == nil {
			known = false
		} else {
			sum += *p.cost[i]
		}
	}
	if known {
		it.cost = &sum
	}
}

// planPDF reads the page sizes (pdfinfo) and plans every page as an image.
func planPDF(ctx context.Context, cfg Config, it *runItem, prompt int) {
	pages, sizes, err := media.PDFPages(ctx, it.in.Path)
	switch {
	case errors.Is(err, media.ErrToolMissing):
		it.fail("plan", "tool.missing", err.Error(), "install poppler-utils (apt-get install poppler-utils; brew install poppler)")
		return
	case errors.Is(err, media.ErrCorrupt):
		it.fail("plan", "file.corrupt", err.Error(), "the file is corrupt or truncated: re-export or re-download it")
		return
	case err != nil:
		it.fail("plan", "pdf.unreadable", err.Error(), "")
		return
	case pages == 0:
		it.fail("plan", "pdf.empty", it.in.Path+" has no pages", "re-export it with its pages, or leave it out")
		return
	}
	lo, hi, err := cfg.Spec.ImageBounds(cfg.Image)
	if err != nil {
		it.fail("plan", "invalid_settings", trimTokens(err), "")
		return
	}
	pp := &pdfPlan{}
	trans := SendBase64
	for i, s := range sizes {
		dpi := media.DPIForPixels(s[0], s[1], int(lo), int(hi))
		if dpi <= 0 {
			it.fail("plan", "pdf.page_empty", fmt.Sprintf("page %d has no area", i+1), "")
			return
		}
		w, h := media.PDFPagePixels(s[0], s[1], dpi)
		plan, err := tokens.PlanImage(w, h, cfg.Spec, cfg.Image)
		if err != nil {
			it.fail("plan", "pdf.page_size", fmt.Sprintf("page %d: %s", i+1, trimTokens(err)), "")
			return
		}
		pp.dpi = append(pp.dpi, dpi)
		pp.plans = append(pp.plans, plan)
		if imageTransport(cfg.Spec, media.Info{}, plan.ResizedWidth, plan.ResizedHeight) == SendUpload {
			trans = SendUpload
		}
		c := cfg.prices().Cost(cfg.Model, cfg.region(), plan.InputTokens+prompt, cfg.OutputTokens)
		var cost *float64
		if c.Known {
			cost = &c.Total
		}
		pp.cost = append(pp.cost, cost)
		it.cur = c.Currency
	}
	it.pdf, it.action, it.trans = pp, ActionSend, trans
	pp.totals(cfg, it)
}

// preparePage renders one page (from 1) into tmp, then probes, plans and
// prepares the PNG exactly like an image file. The PNG is removed after.
func preparePage(ctx context.Context, cfg Config, it *runItem, page int, tmp string, up Uploader) (Prepared, error) {
	png, err := media.RenderPDFPage(ctx, it.in.Path, page, it.pdf.dpi[page-1])
	if err != nil {
		return Prepared{}, err
	}
	path := filepath.Join(tmp, fmt.Sprintf("%s-page-%d.png", it.id, page))
	if err := os.WriteFile(path, png, 0o600); err != nil {
		return Prepared{}, fmt.Errorf("keep rendered page %d: %w", page, err)
	}
	defer os.Remove(path)
	e := estimateOne(ctx, cfg, Input{Path: path}, 0)
	if e.Status != StatusOK {
		msg := e.Error
		if msg == "" {
			msg = e.Reason
		}
		return Prepared{}, fmt.Errorf("rendered page %d: %s", page, strings.TrimPrefix(msg, path+": "))
	}
	p, err := Prepare(ctx, cfg, e, up)
	if err != nil {
		return Prepared{}, fmt.Errorf("page %d: %w", page, err)
	}
	return p, nil
}

// mergePages joins page answers in order, each after a page marker (an
// HTML comment, like QwenVL Markdown's image placeholders).
func mergePages(answers []string) string {
	if len(answers) == 1 {
		return answers[0]
	}
	var b strings.Builder
	for i, a := range answers {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "<!-- page %d -->\n\n", i+1)
		b.WriteString(strings.TrimSpace(a))
	}
	b.WriteString("\n")
	return b.String()
}
