package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/multitab/multitab/internal/app"
	"github.com/multitab/multitab/internal/config"
	"github.com/multitab/multitab/internal/testsvc"
)

// workerEnv, when set, makes this test binary a flush worker whose flushes
// hang after reading the room: the parent test kills it mid-flush.
const workerEnv = "MULTITAB_TEST_HANGING_WORKER"

func TestMain(m *testing.M) {
	if env := os.Getenv(workerEnv); env != "" {
		runHangingWorker(env)
		return
	}
	os.Exit(m.Run())
}

func runHangingWorker(envJSON string) {
	var env testsvc.Env
	if err := json.Unmarshal([]byte(envJSON), &env); err != nil {
		panic(err)
	}
	cfg, err := config.Load(env.Get)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	node, err := app.New(ctx, cfg, testsvc.Logger(), app.Roles{Jobs: true})
	if err != nil {
		panic(err)
	}
	node.Flusher().BeforeSave = func(ctx context.Context, id string) {
		fmt.Println("flushing", id)
		select {} // hang until killed
	}
	if err := node.Start(ctx, nil); err != nil {
		panic(err)
	}
	select {}
}
