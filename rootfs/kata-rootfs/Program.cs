using KataAgent.RootfsCli;

return await RootfsCommands.RunAsync(args).ConfigureAwait(false);
