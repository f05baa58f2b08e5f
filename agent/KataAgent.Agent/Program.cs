using KataAgent.Agent;

return AgentMain.Run(args);
