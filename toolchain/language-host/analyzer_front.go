package main

// The analyzer front: what the engine talks to when it loads a Python policy pack.
//
// The engine loads policy packs before it runs the program and waits for each: the pack's
// Python process needs ~0.3 s to import pulumi_policy (which imports the whole pulumi SDK)
// before it can answer. The front answers the start-up calls itself, so the program starts
// while the pack is still importing:
//   - its own port goes to the engine at once;
//   - GetPluginInfo and GetAnalyzerInfo come from a cache of the pack's own earlier answers,
//     keyed by a hash of the pack's files and of pulumi_policy (first run: asked and cached);
//   - Handshake is answered as pulumi_policy answers it (not implemented);
//   - ConfigureStack and Configure are answered at once and passed on, in order, when the pack is
//     up (pulumi_policy only stores what they carry); every later call waits for them and
//     returns their error, if any;
//   - Remediate, which the engine calls for every resource, is answered empty when no policy is
//     set to remediate (what the pack would answer, without its per-resource deserialisation);
//   - everything else is passed on.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

type analyzerFront struct {
	pulumirpc.UnimplementedAnalyzerServer
	ready     chan struct{} // closed when the pack answers (or failed to start)
	pack      pulumirpc.AnalyzerClient
	startErr  error
	cacheDir  string
	mu        sync.Mutex
	setupDone chan struct{} // closed when the last set-up call passed on has returned
	setupErr  error
	config    *pulumirpc.ConfigureAnalyzerRequest
	info      *pulumirpc.AnalyzerInfo
}

func newAnalyzerFront(cacheDir string) *analyzerFront {
	done := make(chan struct{})
	close(done)
	return &analyzerFront{ready: make(chan struct{}), setupDone: done, cacheDir: cacheDir}
}

// setUp passes a set-up call on once the pack is up and the set-up calls before it returned.
func (f *analyzerFront) setUp(call func(pulumirpc.AnalyzerClient) error) {
	f.mu.Lock()
	previous, done := f.setupDone, make(chan struct{})
	f.setupDone = done
	f.mu.Unlock()
	go func() {
		defer close(done)
		<-previous
		pack, err := f.backend(context.Background())
		if err == nil {
			err = call(pack)
		}
		if err != nil {
			f.mu.Lock()
			if f.setupErr == nil {
				f.setupErr = err
			}
			f.mu.Unlock()
		}
	}()
}

// connect dials the pack once it printed its port (or records why it never will).
func (f *analyzerFront) connect(port string, err error) {
	defer close(f.ready)
	if err != nil {
		f.startErr = err
		return
	}
	conn, err := grpc.NewClient("127.0.0.1:"+port, grpc.WithTransportCredentials(insecure.NewCredentials()),
		rpcutil.GrpcChannelOptions())
	if err != nil {
		f.startErr = err
		return
	}
	f.pack = pulumirpc.NewAnalyzerClient(conn)
}

func (f *analyzerFront) backend(ctx context.Context) (pulumirpc.AnalyzerClient, error) {
	select {
	case <-f.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.startErr != nil {
		return nil, fmt.Errorf("the policy pack did not start: %w", f.startErr)
	}
	return f.pack, nil
}

// configured waits until the pack is up and holds what the set-up calls gave it.
func (f *analyzerFront) configured(ctx context.Context) (pulumirpc.AnalyzerClient, error) {
	pack, err := f.backend(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	done := f.setupDone
	f.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return pack, f.setupErr
}

func (f *analyzerFront) Handshake(context.Context, *pulumirpc.AnalyzerHandshakeRequest) (*pulumirpc.AnalyzerHandshakeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "Handshake is not implemented by pulumi_policy")
}

// cachedOrAsked: the pack's earlier answer from the cache, else its answer now (then cached).
func cachedOrAsked[T proto.Message](ctx context.Context, f *analyzerFront, name string, cached T,
	ask func(pulumirpc.AnalyzerClient) (T, error)) (T, error) {
	if f.readCache(name, cached) {
		return cached, nil
	}
	pack, err := f.backend(ctx)
	if err != nil {
		var none T
		return none, err
	}
	answer, err := ask(pack)
	if err == nil {
		f.writeCache(name, answer)
	}
	return answer, err
}

func (f *analyzerFront) GetPluginInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return cachedOrAsked(ctx, f, "plugin-info", &pulumirpc.PluginInfo{},
		func(pack pulumirpc.AnalyzerClient) (*pulumirpc.PluginInfo, error) {
			return pack.GetPluginInfo(ctx, req)
		})
}

func (f *analyzerFront) GetAnalyzerInfo(ctx context.Context, req *emptypb.Empty) (*pulumirpc.AnalyzerInfo, error) {
	info, err := cachedOrAsked(ctx, f, "analyzer-info", &pulumirpc.AnalyzerInfo{},
		func(pack pulumirpc.AnalyzerClient) (*pulumirpc.AnalyzerInfo, error) {
			return pack.GetAnalyzerInfo(ctx, req)
		})
	if err == nil {
		f.remember(info)
	}
	return info, err
}

func (f *analyzerFront) remember(info *pulumirpc.AnalyzerInfo) {
	f.mu.Lock()
	f.info = info
	f.mu.Unlock()
}

func (f *analyzerFront) Configure(_ context.Context, req *pulumirpc.ConfigureAnalyzerRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	f.config = req
	f.mu.Unlock()
	f.setUp(func(pack pulumirpc.AnalyzerClient) error {
		_, err := pack.Configure(context.Background(), req)
		return err
	})
	return &emptypb.Empty{}, nil
}

func (f *analyzerFront) ConfigureStack(_ context.Context, req *pulumirpc.AnalyzerStackConfigureRequest) (*pulumirpc.AnalyzerStackConfigureResponse, error) {
	f.setUp(func(pack pulumirpc.AnalyzerClient) error {
		_, err := pack.ConfigureStack(context.Background(), req)
		return err
	})
	return &pulumirpc.AnalyzerStackConfigureResponse{}, nil
}

// remediates: whether any policy runs at the remediate level (as configured, else its own level).
func (f *analyzerFront) remediates() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.info == nil {
		return true // unknown: let the pack answer
	}
	configured := map[string]pulumirpc.EnforcementLevel{}
	if f.config != nil {
		for name, policy := range f.config.PolicyConfig {
			configured[name] = policy.EnforcementLevel
			if policy.EnforcementLevel == pulumirpc.EnforcementLevel_REMEDIATE {
				return true
			}
		}
	}
	for _, policy := range f.info.Policies {
		level, ok := configured[policy.Name]
		if !ok {
			level = policy.EnforcementLevel
		}
		if level == pulumirpc.EnforcementLevel_REMEDIATE {
			return true
		}
	}
	return false
}

func (f *analyzerFront) Remediate(ctx context.Context, req *pulumirpc.AnalyzeRequest) (*pulumirpc.RemediateResponse, error) {
	pack, err := f.configured(ctx)
	if err != nil {
		return nil, err
	}
	if !f.remediates() {
		return &pulumirpc.RemediateResponse{}, nil
	}
	return pack.Remediate(ctx, req)
}

func (f *analyzerFront) Analyze(ctx context.Context, req *pulumirpc.AnalyzeRequest) (*pulumirpc.AnalyzeResponse, error) {
	pack, err := f.configured(ctx)
	if err != nil {
		return nil, err
	}
	return pack.Analyze(ctx, req)
}

func (f *analyzerFront) AnalyzeStack(ctx context.Context, req *pulumirpc.AnalyzeStackRequest) (*pulumirpc.AnalyzeResponse, error) {
	pack, err := f.configured(ctx)
	if err != nil {
		return nil, err
	}
	return pack.AnalyzeStack(ctx, req)
}

func (f *analyzerFront) Cancel(ctx context.Context, req *emptypb.Empty) (*emptypb.Empty, error) {
	select {
	case <-f.ready:
		if f.pack != nil {
			return f.pack.Cancel(ctx, req)
		}
	default:
	}
	return &emptypb.Empty{}, nil
}

func (f *analyzerFront) readCache(name string, into proto.Message) bool {
	if f.cacheDir == "" {
		return false
	}
	data, err := os.ReadFile(filepath.Join(f.cacheDir, name+".json"))
	return err == nil && protojson.Unmarshal(data, into) == nil
}

func (f *analyzerFront) writeCache(name string, message proto.Message) {
	if f.cacheDir == "" {
		return
	}
	data, err := protojson.Marshal(message)
	if err != nil || os.MkdirAll(f.cacheDir, 0o755) != nil {
		return
	}
	tmp := filepath.Join(f.cacheDir, name+".json.tmp")
	if os.WriteFile(tmp, data, 0o644) == nil {
		_ = os.Rename(tmp, filepath.Join(f.cacheDir, name+".json"))
	}
}

// packCacheDir: where the pack's answers are kept, keyed by the pack's files (not its
// virtualenvs or bytecode) and by the pulumi_policy it runs with. "" when it cannot be keyed.
func packCacheDir(packDir, venv string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	hash := sha256.New()
	var files []string
	err = filepath.WalkDir(packDir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := entry.Name()
		if entry.IsDir() && path != packDir {
			if strings.HasPrefix(name, ".") || name == "__pycache__" || path == venv ||
				fileExists(filepath.Join(path, "pyvenv.cfg")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !entry.IsDir() && entry.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return ""
	}
	if venv != "" {
		matches, _ := filepath.Glob(filepath.Join(venv, "lib", "python*", "site-packages", "pulumi_policy", "*.py"))
		files = append(files, matches...)
	}
	sort.Strings(files)
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return ""
		}
		fmt.Fprintf(hash, "%s\x00%d\x00", path, len(data))
		hash.Write(data)
	}
	return filepath.Join(base, "preflight", "policy-pack-info", hex.EncodeToString(hash.Sum(nil))[:24])
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// splitPort passes the pack's stdout to `rest` after reading the port it prints first.
func splitPort(out io.Reader, rest io.Writer, port chan<- string) error {
	reader := bufio.NewReader(out)
	line, err := reader.ReadString('\n')
	if err != nil {
		close(port)
		return err
	}
	port <- strings.TrimSpace(line)
	_, err = io.Copy(rest, reader)
	return err
}
