using KataAgent.Kactl;

return await KactlCommands.RunAsync(args);
