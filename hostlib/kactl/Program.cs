using KataAgent.Kactl;

StartupTimeline.Mark("main");
int status = await KactlCommands.RunAsync(args);
StartupTimeline.Mark("end");
StartupTimeline.Print();
return status;
