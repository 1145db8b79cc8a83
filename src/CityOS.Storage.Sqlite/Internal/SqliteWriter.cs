using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CityOS.Storage.Sqlite.Internal;

/// <summary>
/// The single writer with group commit. Callers enqueue work; one task takes every pending item, runs
/// each in its own savepoint inside one transaction, commits once, and only then completes the callers.
/// One fsync-free WAL commit per group instead of per request is what makes thousands of small creates
/// per second possible, and a single writer means no SQLITE_BUSY between our own writes.
/// </summary>
internal sealed class SqliteWriter : IAsyncDisposable
{
    // Bounds the latency a group adds to its last item; 1,000-entity batches are one item each.
    private const int MaxGroup = 512;

    private readonly WriterConnection _connection;
    private readonly ILogger _logger;
    private readonly Channel<WriteItem> _queue = Channel.CreateUnbounded<WriteItem>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = false,
    });

    private readonly Task _loop;

    public SqliteWriter(WriterConnection connection, ILogger logger)
    {
        _connection = connection;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    private long _commits;

    /// <summary>Group commits so far (lets tests see that concurrent writes share commits).</summary>
    public long Commits => Volatile.Read(ref _commits);

    /// <summary>Runs <paramref name="work"/> in the next group; completes after its group committed.</summary>
    public Task<T> EnqueueAsync<T>(Func<WriterConnection, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var item = new WriteItem<T>(work, cancellationToken);
        if (!_queue.Writer.TryWrite(item))
        {
            return Task.FromException<T>(new ObjectDisposedException(nameof(SqliteEntityStore), "The SQLite store has been disposed."));
        }

        return item.Task;
    }

    /// <summary>Stops taking work and finishes what is queued; the connection stays open for its owner to close.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var group = new List<WriteItem>(MaxGroup);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (group.Count < MaxGroup && _queue.Reader.TryRead(out var item))
            {
                group.Add(item);
            }

            try
            {
                await RunGroupAsync(group).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Never let the loop die: a dead writer would hang every later write.
                Log.WriterGroupFailed(_logger, ex);
                try
                {
                    _connection.Rollback();
                }
                catch (Exception rollbackError)
                {
                    Log.WriterGroupFailed(_logger, rollbackError);
                }

                foreach (var item in group)
                {
                    item.FailIfNotFailed(ex);
                }
            }

            foreach (var item in group)
            {
                item.Complete();
            }

            group.Clear();
        }
    }

    private async Task RunGroupAsync(List<WriteItem> group)
    {
        _connection.Begin();
        Exception? broken = null;
        foreach (var item in group)
        {
            if (broken is not null)
            {
                item.Fail(broken);
                continue;
            }

            if (item.CancellationToken.IsCancellationRequested)
            {
                item.Cancel();
                continue;
            }

            _connection.BeginItem();
            try
            {
                await item.RunAsync(_connection).ConfigureAwait(false);
                _connection.EndItem();
                item.Succeed();
            }
            catch (Exception ex)
            {
                item.Fail(ex);
                if (!_connection.UndoItem())
                {
                    // SQLite itself rolled the whole transaction back (e.g. disk full): earlier items are lost too.
                    broken = ex;
                }
            }
        }

        if (broken is not null)
        {
            Log.WriterGroupRolledBack(_logger, broken);
            _connection.Rollback();
            foreach (var item in group)
            {
                item.FailIfSucceeded(broken);
            }

            return;
        }

        try
        {
            _connection.Commit();
            Interlocked.Increment(ref _commits);
        }
        catch (Exception ex)
        {
            Log.WriterCommitFailed(_logger, ex);
            _connection.Rollback();
            foreach (var item in group)
            {
                item.FailIfSucceeded(ex);
            }
        }
    }
}

/// <summary>One queued unit of work and the caller waiting for it.</summary>
internal abstract class WriteItem
{
    private protected WriteItem(CancellationToken cancellationToken) => CancellationToken = cancellationToken;

    private enum State
    {
        Pending,
        Succeeded,
        Failed,
        Canceled,
    }

    private State _state;
    private Exception? _error;

    public CancellationToken CancellationToken { get; }

    /// <summary>Runs the work inside the item's savepoint.</summary>
    public abstract ValueTask RunAsync(WriterConnection connection);

    public void Succeed() => _state = State.Succeeded;

    public void Cancel() => _state = State.Canceled;

    public void Fail(Exception error)
    {
        _state = State.Failed;
        _error = error;
    }

    /// <summary>Marks an item whose writes were lost with the group as failed; items that failed on their own keep their error.</summary>
    public void FailIfSucceeded(Exception error)
    {
        if (_state == State.Succeeded)
        {
            Fail(new InvalidOperationException("The write was rolled back because its transaction failed: " + error.Message, error));
        }
    }

    /// <summary>After an unexpected writer error nothing of the group is kept; items that failed on their own keep their error.</summary>
    public void FailIfNotFailed(Exception error)
    {
        if (_state != State.Failed)
        {
            Fail(new InvalidOperationException("The write was rolled back because its transaction failed: " + error.Message, error));
        }
    }

    /// <summary>Completes the caller's task; called only after the group committed or was abandoned.</summary>
    public void Complete()
    {
        switch (_state)
        {
            case State.Succeeded:
                SetResult();
                break;
            case State.Canceled:
                SetCanceled(CancellationToken);
                break;
            case State.Failed:
            case State.Pending:
            default:
                SetException(_error ?? new InvalidOperationException("The write was not run."));
                break;
        }
    }

    private protected abstract void SetResult();

    private protected abstract void SetCanceled(CancellationToken cancellationToken);

    private protected abstract void SetException(Exception error);
}

/// <summary>A work item with a result.</summary>
internal sealed class WriteItem<T> : WriteItem
{
    private readonly Func<WriterConnection, CancellationToken, ValueTask<T>> _work;

    // Continuations must not run on the writer task, or one slow caller would stall every write.
    private readonly TaskCompletionSource<T> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private T? _result;

    public WriteItem(Func<WriterConnection, CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
        : base(cancellationToken)
    {
        _work = work;
    }

    public Task<T> Task => _completion.Task;

    public override async ValueTask RunAsync(WriterConnection connection) =>
        _result = await _work(connection, CancellationToken).ConfigureAwait(false);

    private protected override void SetResult() => _completion.TrySetResult(_result!);

    private protected override void SetCanceled(CancellationToken cancellationToken) => _completion.TrySetCanceled(cancellationToken);

    private protected override void SetException(Exception error) => _completion.TrySetException(error);
}
