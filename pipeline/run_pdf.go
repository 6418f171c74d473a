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
// one record; if any page fails, the item fails and a resumed run sends all
// of its pages again.

// pdfPlan is the per-page plan of one PDF.
type pdfPlan struct {
	dpi   []float64
	plans []tokens.ImagePlan
}

func (p *pdfPlan) pages() int { return len(p.dpi) }

// planPDF reads the page sizes (pdfinfo) and plans every page as an image.
func planPDF(ctx context.Context, cfg Config, it *runItem, prompt int) {
	pages, sizes, err := media.PDFPages(ctx, it.in.Path)
	switch {
	case errors.Is(err, media.ErrToolMissing):
		it.fail("plan", "tool.missing", err.Error())
		return
	case err != nil:
		it.fail("plan", "pdf.unreadable", err.Error())
		return
	case pages == 0:
		it.fail("plan", "pdf.empty", "the PDF has no pages")
		return
	}
	lo, hi, err := cfg.Spec.ImageBounds(cfg.Image)
	if err != nil {
		it.fail("plan", "invalid_settings", trimTokens(err))
		return
	}
	pp := &pdfPlan{}
	var cost float64
	known := true
	for i, s := range sizes {
		dpi := media.DPIForPixels(s[0], s[1], int(lo), int(hi))
		if dpi <= 0 {
			it.fail("plan", "pdf.page_empty", fmt.Sprintf("page %d has no area", i+1))
			return
		}
		w, h := media.PDFPagePixels(s[0], s[1], dpi)
		plan, err := tokens.PlanImage(w, h, cfg.Spec, cfg.Image)
		if err != nil {
			it.fail("plan", "pdf.page_size", fmt.Sprintf("page %d: %s", i+1, trimTokens(err)))
			return
		}
		pp.dpi = append(pp.dpi, dpi)
		pp.plans = append(pp.plans, plan)
		if imageTransport(cfg.Spec, media.Info{}, plan.ResizedWidth, plan.ResizedHeight) == SendUpload {
			it.trans = SendUpload
		}
		in := plan.InputTokens + prompt
		it.inTok += in
		it.outTok += cfg.OutputTokens
		c := cfg.prices().Cost(cfg.Model, cfg.region(), in, cfg.OutputTokens)
		if !c.Known {
			known = false
		}
		cost += c.Total
		it.cur = c.Currency
	}
	it.pdf = pp
	it.action, it.reqs = ActionSend, pages
	if it.trans == "" {
		it.trans = SendBase64
	}
	if known {
		it.cost = &cost
	}
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
