using KataAgent.Bench;

return await BenchRunner.RunAsync(args);
