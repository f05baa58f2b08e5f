using KataAgent.Helpers;

return HelperMain.Run(args);
