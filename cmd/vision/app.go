package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// commands lists every subcommand; each is defined in its own cmd_*.go file.
func commands() []*cli.Command {
	return []*cli.Command{
		modelsCommand(),
		tokensCommand(),
		estimateCommand(),
		checkCommand(),
		resizeCommand(),
		framesCommand(),
		askCommand(),
		runCommand(),
	}
}

// globalFlags are accepted by every command (DESIGN.md "Global").
func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "model", Value: "qwen3-vl-plus", Usage: "model `NAME` (see 'vision models')", EnvVars: []string{"VISION_MODEL"}},
		&cli.StringFlag{Name: "family", Usage: "force a model `FAMILY` for a model name vision does not know yet"},
		&cli.BoolFlag{Name: "json", Usage: "print JSON Lines (one object per line) instead of tables"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only results and errors"},
	}
}

// apiFlags select the DashScope endpoint; used by commands that send requests.
func apiFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "region", Value: "intl", Usage: "DashScope region: intl (Singapore), us (Virginia), cn (Beijing) or hk (Hong Kong)"},
		&cli.StringFlag{Name: "base-url", Usage: "API base `URL` (scheme and host only), overrides --region; $DASHSCOPE_BASE_URL applies when neither is given"},
		&cli.StringFlag{Name: "api", Value: "native", Usage: "API flavour: native or openai (OpenAI-compatible)"},
	}
}

// run is the whole program: it parses args, runs one command and returns the
// exit status. Output goes to stdout and stderr only.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	stdout, stderr, done := guardOutput(stdout, stderr, os.Getenv("DASHSCOPE_API_KEY"))
	defer done()
	app := newApp(stdin, stdout, stderr)
	if len(args) > 1 && args[1] == "help" { // "vision help [COMMAND]"
		args = append([]string{args[0]}, append(args[2:min(len(args), 3)], "--help")...)
	}
	args = intersperse(app, args)
	cmd := "COMMAND"
	var err error
	switch c := commandOf(app, args); {
	case c != nil:
		cmd = c.Name
	case len(args) > 1 && !strings.HasPrefix(args[1], "-"):
		err = usageError{fmt.Errorf("unknown command %q; the commands are %s", args[1], strings.Join(commandNames(app), ", "))}
	}
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err != nil && strings.HasPrefix(err.Error(), "flag provided but not defined") {
		err = usageError{err}
	}
	var ue usageError
	if errors.As(err, &ue) {
		reportError(stderr, err)
		fmt.Fprintf(stderr, "vision: hint: run 'vision %s --help' for usage\n", cmd)
		return exitUsage
	}
	reportError(stderr, err)
	return exitCode(ctx, err)
}

// commandOf is the command args[1] names, or nil.
func commandOf(app *cli.App, args []string) *cli.Command {
	if len(args) < 2 {
		return nil
	}
	for _, c := range app.Commands {
		if c.HasName(args[1]) {
			return c
		}
	}
	return nil
}

// commandNames lists the app's command names in order.
func commandNames(app *cli.App) []string {
	var names []string
	for _, c := range app.Commands {
		names = append(names, c.Name)
	}
	return names
}

// newApp builds the urfave/cli application with every command and flag.
func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "vision",
		Usage:   "send local images and videos to Qwen-VL models, exactly sized, with the cost known first",
		Version: version,
		Description: "vision resizes images as Qwen-VL's smart_resize will, extracts video frames with ffmpeg, " +
			"estimates tokens and cost from file headers, validates every documented DashScope limit, " +
			"and submits requests with retries, keeping every answer.",
		Commands:             commands(),
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		ExitErrHandler:       func(*cli.Context, error) {}, // we map errors to exit codes ourselves
		HideHelpCommand:      true,
		EnableBashCompletion: false,
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitCodesHelp + "\n\nENVIRONMENT:\n" +
			"   DASHSCOPE_API_KEY    API key for ask and run (never printed)\n" +
			"   DASHSCOPE_BASE_URL   API base URL (scheme and host), when neither --base-url nor --region is given\n" +
			"   VISION_MODEL         default model, as --model\n",
	}
	for _, c := range app.Commands {
		c.Flags = append(c.Flags, globalFlags()...)
		c.CustomHelpTemplate = cli.CommandHelpTemplate + "\n" + exitCodesHelp + "\n"
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	}
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	return app
}

// intersperse moves flags that follow positional arguments in front of them,
// so "vision tokens 1280x720 --json" works: urfave/cli v2 stops parsing flags
// at the first argument. "--" ends flags; what follows stays as is.
func intersperse(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[1]) {
			cmd = c
		}
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, positional []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			positional = append(positional, rest[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				flags = append(flags, rest[i])
			}
			continue
		}
		positional = append(positional, a)
	}
	out := append([]string{args[0], args[1]}, flags...)
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}
