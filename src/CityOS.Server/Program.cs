using CityOS.Server.Hosting;

return await CommandLine.Build().Parse(args).InvokeAsync().ConfigureAwait(false);
