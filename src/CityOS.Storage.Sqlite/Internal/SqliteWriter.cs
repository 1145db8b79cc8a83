using System.Diagnostics;
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
    // How many queued items one pass takes; 1,000-entity batches are one item each.
    private const int MaxGroup = 512;

    // A transaction commits early once it has run this long, bounding its size and its callers' wait.
    private static readonly TimeSpan MaxTransactionTime = TimeSpan.FromMilliseconds(100);

    private readonly WriterConnection _connection;
    private readonly ILogger _logger;
    private readonly Channel<WriteItem> _queue = Channel.CreateUnbounded<WriteItem>(new UnboundedChannelOptions
    {
        SingleReader = true,
        SingleWriter = false,
    });

    private readonly Task _loop;
    private long _commits;

    public SqliteWriter(WriterConnection connection, ILogger logger)
    {
        _connection = connection;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

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
                var next = 0;
                while (next < group.Count)
                {
                    next = await RunTransactionAsync(group, next).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                // Never let the loop die: a dead writer would hang every later write. Items of transactions
                // that already committed were completed then; completing them again changes nothing.
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
                    item.Complete();
                }
            }

            group.Clear();
        }
    }

    /// <summary>
    /// Runs items from <paramref name="start"/> in one transaction, committing early once it has run for
    /// <see cref="MaxTransactionTime"/> (so a queue of large batches does not become one huge transaction),
    /// then completes their callers. Returns the index of the first item not run.
    /// </summary>
    private async Task<int> RunTransactionAsync(List<WriteItem> group, int start)
    {
        _connection.Begin();
        var began = Stopwatch.GetTimestamp();
        Exception? broken = null;
        var end = start;
        for (; end < group.Count; end++)
        {
            if (end > start && Stopwatch.GetElapsedTime(began) > MaxTransactionTime)
            {
                break;
            }

            var item = group[end];
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
            FailSucceeded(group, start, end, broken);
        }
        else
        {
            try
            {
                _connection.Commit();
                Interlocked.Increment(ref _commits);
            }
            catch (Exception ex)
            {
                Log.WriterCommitFailed(_logger, ex);
                _connection.Rollback();
                FailSucceeded(group, start, end, ex);
            }
        }

        // Only now, after COMMIT returned (or the transaction was abandoned), do callers learn the outcome.
        for (var i = start; i < end; i++)
        {
            group[i].Complete();
        }

        return end;
    }

    private static void FailSucceeded(List<WriteItem> group, int start, int end, Exception error)
    {
        for (var i = start; i < end; i++)
        {
            group[i].FailIfSucceeded(error);
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
