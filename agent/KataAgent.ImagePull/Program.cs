using KataAgent.ImagePull;

return await GuestPull.RunAsync(Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.Error, CancellationToken.None);
